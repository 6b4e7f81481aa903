"""stsd."""
