"""Demo data for `kefu demo`: see docs/demo.md."""
