"""WeChat Official Account (微信公众号): server URL messages in, the customer-service
message API out (docs/channels/wechat.md)."""
