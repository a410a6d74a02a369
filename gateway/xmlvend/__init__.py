"""The XMLVend 2.1 door: `POST /xmlvend/2.1`, the standard wire that certified vendor clients
speak unchanged (lxml, no spyne). See app.py for the order a request is let in."""

from gateway.xmlvend.app import create_xmlvend_app

__all__ = ["create_xmlvend_app"]
