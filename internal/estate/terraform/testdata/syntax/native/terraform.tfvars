bucket = "acme-orders"
