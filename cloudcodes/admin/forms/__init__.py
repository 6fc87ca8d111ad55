"""The console's forms, one module per console area, named like the view module that uses it."""
