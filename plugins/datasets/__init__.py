"""Built-in dataset adapters (each one an ordinary plugin)."""
