"""The vend domain: the XMLVend operations on the database (`service`), the one vend pipeline
and its plans (`pipeline`), the steps of one vend (`flow`), the one table of library errors
(`refusals`), engineering tokens, the meter lookup the steps share, the (clientID, msgID) claim and
its stored outcomes (`idempotency`), receipts, and the records and values they use (`models`,
`types`). The SOAP edge (gateway/soap/) sits above it; master data, pricing and tariffs below."""
