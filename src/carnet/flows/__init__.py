"""Work that spans domains: account administration with its audit entries, citizen accounts from cards."""
