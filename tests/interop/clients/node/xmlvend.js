// The interop scenario on /xmlvend/2.1 through node `soap`: requests as plain objects, XMLVend's
// attributes under node-soap's `attributes` key and, wherever the schema declares an abstract type,
// an `attributes.xsi_type` naming the concrete one by the WSDL's prefix (b:, r:), which node-soap
// declares on the envelope. (Given as {type, xmlns} instead, node-soap 1.13.0 declares the
// child's namespace twice on one element, `xmlns:ns1=... xmlns:ns1=...`: not well-formed XML.)
// Answers are parsed by the xsi:types they carry. A fault is read from the envelope
// node-soap parsed (err.root): its detail's xmlvendFaultResp/fault keeps the xsi:type attribute.
'use strict';

// The served WSDL's prefixes for the XMLVend base and revenue namespaces.
const B = 'b';
const R = 'r';

async function xmlvendScenario({
  arg, asList, msgID, makeClient, runStep, soap12Step,
}) {
  const typed = (type, prefix, attrs, children) => ({
    attributes: { xsi_type: { type, prefix }, ...(attrs || {}) },
    ...(children || {}),
  });
  const xvMsg = (n) => {
    const id = msgID(n);
    return { attributes: { dateTime: id.dateTime, uniqueNumber: String(id.uniqueNumber) } };
  };
  const head = (n, terminal, msg) => ({
    clientID: typed('EANDeviceID', B, { ean: arg('CLIENT_ID') }),
    terminalID: typed('GenericDeviceID', B, { id: terminal || arg('TERMINAL_ID') }),
    msgID: msg || xvMsg(n),
  });
  const byMeter = (meter) => typed('VendIDMethod', B, null, {
    meterIdentifier: typed('MeterNumber', B, { msno: meter }),
  });
  const money = (amount) => ({ attributes: { value: amount, symbol: 'ZAR' } });
  const tokensOf = (vendResp) => asList(vendResp.creditVendReceipt.transactions.tx)
    .filter((tx) => tx.creditTokenIssue)
    .map((tx) => String(tx.creditTokenIssue.token.stsCipher));
  const faultOf = (err) => {
    const fault = err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
    const inner = fault && fault.detail && fault.detail.xmlvendFaultResp && fault.detail.xmlvendFaultResp.fault;
    if (!inner) return null;
    const kind = inner.attributes && (inner.attributes['xsi:type'] || inner.attributes.type);
    return {
      faultType: kind ? String(kind).split(':').pop() : null,
      faultcode: fault.faultcode,
      typedBy: 'err.root...detail.xmlvendFaultResp.fault xsi:type',
    };
  };

  const client = await makeClient(arg('SECRET'));
  const meter = arg('METER');
  const steps = {};
  const sold = head(2);
  const vendWith = (cl, fields, onMeter, amount) => cl.CreditVendRequestAsync({
    ...fields,
    resource: typed('Electricity', B),
    idMethod: byMeter(onMeter),
    purchaseValue: typed('PurchaseValueCurrency', R, null, { amt: money(amount) }),
    payType: typed('Cash', B, null, { tenderAmt: money(amount) }),
  });

  await runStep(steps, 'confirm', async () => {
    const [resp] = await client.ConfirmCustomerRequestAsync({ ...head(1), idMethod: byMeter(meter) });
    const first = asList(resp.confirmCustResult)[0];
    return { customerName: first.custVendDetail.attributes.name, msno: first.meterDetail.attributes.msno };
  });
  const vend = async () => {
    const [resp] = await vendWith(client, sold, meter, '50.00');
    return { receiptNo: resp.creditVendReceipt.attributes.receiptNo, tokens: tokensOf(resp) };
  };
  await runStep(steps, 'vend', vend);
  await runStep(steps, 'replay', vend);
  await runStep(steps, 'lastResponse', async () => {
    // adviceReq's declared type is abstract: the request object names LastRespAdviceReq.
    const [resp] = await client.AdviceRequestAsync({
      attributes: { xsi_type: { type: 'LastRespAdviceReq', prefix: B } },
      ...head(3),
      adviceReqMsgID: sold.msgID,
    });
    const last = resp.lastResponse;
    return { receiptNo: last.creditVendReceipt.attributes.receiptNo, tokens: tokensOf(last) };
  });
  await runStep(steps, 'reprint', async () => {
    const [resp] = await client.ReprintRequestAsync({ ...head(4), idMethod: byMeter(meter) });
    const copies = asList(resp.reprint);
    return {
      receiptNos: copies.map((c) => c.creditVendReceipt.attributes.receiptNo),
      tokens: copies.length ? tokensOf(copies[0]) : [],
    };
  });
  await runStep(steps, 'statement', async () => {
    const [resp] = await client.VendorStatementRequestAsync(head(5));
    return {
      availCredit: String(resp.statement.availCredit.attributes.value),
      movements: asList(resp.statement.lineItem).length,
    };
  });
  await runStep(steps, 'blockedFault', async () => {
    try {
      await vendWith(client, head(6), arg('BLOCKED_METER'), '50.00');
    } catch (err) {
      const read = faultOf(err);
      if (!read) throw err;
      return read;
    }
    throw new Error('a vend for the blocked meter succeeded');
  });
  await runStep(steps, 'wrongPassword', async () => {
    const wrong = await makeClient(`not-the-${arg('SECRET')}`);
    try {
      await wrong.VendorStatementRequestAsync(head(7));
    } catch (err) {
      const status = err.response ? err.response.status : null;
      const read = faultOf(err);
      if (read) return { refused: 'fault', httpStatus: status, ...read };
      if (err.Fault && err.Fault.faultstring === 'Invalid XML') {
        return { refused: 'parse', httpStatus: status, message: `Invalid XML (reported as ${err.Fault.statusCode}): ${err.Fault.detail}` };
      }
      return { refused: 'http', httpStatus: status, message: String(err && err.message) };
    }
    throw new Error('a wrong password was accepted');
  });
  await runStep(steps, 'notAuthorised', async () => {
    const fenced = await makeClient(arg('FENCED_SECRET'), arg('FENCED_TERMINAL'));
    try {
      await fenced.VendorStatementRequestAsync(head(8, arg('FENCED_TERMINAL')));
    } catch (err) {
      const read = faultOf(err);
      if (!read) throw err;
      return { ...read, httpStatus: err.response ? err.response.status : null };
    }
    throw new Error('a terminal was served from an address its allowlist leaves out');
  });
  await runStep(steps, 'soap12Envelope', () => soap12Step('VendorStatementRequest', head(10)));
  await runStep(steps, 'trailingZeros', async () => {
    const [resp] = await vendWith(client, head(9), meter, '50.500');
    return {
      receiptNo: resp.creditVendReceipt.attributes.receiptNo,
      tenderAmount: String(resp.creditVendReceipt.transactions.tenderAmt.attributes.value),
    };
  });
  return steps;
}

module.exports = { xmlvendScenario };
