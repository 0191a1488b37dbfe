"""Work that spans domains: it sits above every domain and below the boundaries (web, cli, jobs)."""
