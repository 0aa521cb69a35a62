"""The import benchmark's baseline handler (a folder with app.py, as Lambda imports it)."""
