"""Backend adapter contract, its implementations and the reference government platform."""
