"""The city-portal adapter (随申办市民云): sign-on, outbound sync through the outbox,
inbound webhooks, and a fake portal server. The contract: docs/portal-contract.md."""
