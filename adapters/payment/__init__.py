"""Payment gateway adapters: sandbox (embedded default) and Alipay."""
