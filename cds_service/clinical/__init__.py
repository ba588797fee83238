"""The clinical engine: the clinic's MSC screening criteria as data and small typed functions.

Imports nothing from Flask and knows nothing about HTTP.
"""
