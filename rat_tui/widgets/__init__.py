"""Reusable widgets of the workbench: lake tree, SQL editor, results grid, pipeline panel."""
