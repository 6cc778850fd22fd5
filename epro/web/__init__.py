"""HTML blueprints: thin views that translate HTTP into calls to the domain."""
