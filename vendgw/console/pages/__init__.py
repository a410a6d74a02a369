"""The console's pages, one blueprint per module (registered by vendgw.console.app.PAGES)."""
