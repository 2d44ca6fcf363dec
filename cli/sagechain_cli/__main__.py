"""python -m sagechain_cli"""

from sagechain_cli.main import cli

cli()
