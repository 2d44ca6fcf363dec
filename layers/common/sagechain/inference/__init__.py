"""The inference API, predict: an image in, the live model's labels out; and the API's OpenAPI document."""
