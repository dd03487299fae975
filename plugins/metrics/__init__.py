"""Built-in metrics and NME normalisers (an ordinary plugin)."""
