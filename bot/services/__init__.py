"""CRM services: the business rules. Each takes a Session; the caller owns the transaction."""
