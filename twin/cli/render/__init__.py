"""Rich renderables for the terminal, one module per kind of command: data in, renderable out."""
