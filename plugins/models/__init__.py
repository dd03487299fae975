"""Built-in landmark models (each one an ordinary plugin)."""
