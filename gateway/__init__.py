"""The vending gateway: XMLVend SOAP service, pricing, meters and customers, and the vend path."""
