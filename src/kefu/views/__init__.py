"""Saved inbox views: named ticket filters, personal or shared with everyone."""
