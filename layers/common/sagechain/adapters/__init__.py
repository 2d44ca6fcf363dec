"""The only modules that import boto3: each turns SDK calls and errors into sagechain's terms."""
