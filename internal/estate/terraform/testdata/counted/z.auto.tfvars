buckets = ["data"]
