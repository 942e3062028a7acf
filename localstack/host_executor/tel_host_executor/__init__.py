"""A LocalStack Lambda runtime executor that runs a function's bootstrap as a
host process (no Docker). See ../README.md."""
