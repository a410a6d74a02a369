// The interop scenario through the node `soap` package (npm, pinned in package.json), as a
// JavaScript integration writes it: the client is built from the served WSDL at run time, HTTP
// Basic via BasicAuthSecurity, faults read from the error node-soap throws (err.root is the parsed
// envelope, its Fault.detail parsed against the WSDL's schema).
//
// Run by tests/interop/test_matrix.py: arguments arrive as INTEROP_* environment variables, the
// outcome of each step is printed as one JSON object.
'use strict';

const soap = require('soap');

function arg(name) {
  const value = process.env[`INTEROP_${name}`];
  if (value === undefined) throw new Error(`INTEROP_${name} is not set`);
  return value;
}

function asList(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function tokensOf(transactions) {
  return asList(transactions).flatMap((tx) => asList(tx.tokens).map(String));
}

function utcStamp() {
  return new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function msgID(n) {
  // uniqueNumber stays below 2**53: the test hands out bases that fit a JavaScript number.
  return { dateTime: utcStamp(), uniqueNumber: Number(arg('MSG_BASE')) + n };
}

async function makeClient(secret, terminal, options) {
  const client = await soap.createClientAsync(arg('WSDL'), options || {});
  client.setSecurity(new soap.BasicAuthSecurity(`${arg('CLIENT_ID')}/${terminal || arg('TERMINAL_ID')}`, secret));
  return client;
}

function describe(err) {
  const fault = err && err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
  if (fault) return `SOAP fault: ${fault.faultcode}: ${fault.faultstring}`;
  if (err && err.Fault) return `node-soap error ${JSON.stringify(err.Fault)}`;
  const status = err && err.response ? ` (HTTP ${err.response.status})` : '';
  return `${err && err.name}: ${err && err.message}${status}`;
}

async function runStep(steps, name, body) {
  try {
    steps[name] = { ok: true, ...(await body()) };
  } catch (err) {
    steps[name] = { ok: false, error: describe(err) };
  }
}

// The same request from a client set to SOAP 1.2 (forceSoap12Headers: a SOAP 1.2 envelope,
// Content-Type application/soap+xml). The WSDL binds SOAP 1.1 only; the SOAP 1.1 answer to
// another envelope version is a VersionMismatch fault.
async function soap12Step(operation, request) {
  // disableCache: node-soap caches a WSDL per URL with the options of the client that loaded it;
  // without it this client's SOAP 1.2 setting would leak into the scenario's other clients.
  const client = await makeClient(arg('SECRET'), null, { forceSoap12Headers: true, disableCache: true });
  try {
    await client[`${operation}Async`](request);
  } catch (err) {
    const fault = err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
    if (fault) return { faultcode: fault.faultcode || (fault.Code && fault.Code.Value), message: fault.faultstring, httpStatus: err.response ? err.response.status : null };
    throw err;
  }
  throw new Error('a SOAP 1.2 envelope was served by a SOAP 1.1 endpoint');
}

async function vendScenario() {
  const client = await makeClient(arg('SECRET'));
  const base = { clientID: arg('CLIENT_ID'), terminalID: arg('TERMINAL_ID') };
  const meter = arg('METER');
  const steps = {};
  const sold = msgID(2);

  await runStep(steps, 'confirm', async () => {
    const [resp] = await client.ConfirmCustomerAsync({ ...base, msgID: msgID(1), meterNumber: meter });
    return { customerName: resp.customer.name, msno: resp.meter.msno };
  });
  const vend = async () => {
    const [resp] = await client.CreditVendAsync({
      ...base, msgID: sold, meterNumber: meter, amount: '50.00', payType: 'cash',
    });
    return { receiptNo: resp.receiptNo, tokens: tokensOf(resp.transactions) };
  };
  await runStep(steps, 'vend', vend);
  await runStep(steps, 'replay', vend);
  await runStep(steps, 'lastResponse', async () => {
    const [resp] = await client.LastResponseAdviceAsync({ ...base, msgID: msgID(3), originalMsgID: sold });
    return { receiptNo: resp.receiptNo, tokens: tokensOf(resp.transactions) };
  });
  await runStep(steps, 'reprint', async () => {
    const [resp] = await client.ReprintAsync({ ...base, msgID: msgID(4), meterNumber: meter });
    const receipts = asList(resp.receipts);
    return {
      receiptNos: receipts.map((r) => r.receiptNo),
      tokens: receipts.length ? tokensOf(receipts[0].transactions) : [],
    };
  });
  await runStep(steps, 'statement', async () => {
    const [resp] = await client.VendorStatementAsync({ ...base, msgID: msgID(5), maxItems: 5 });
    return { availCredit: String(resp.availCredit), movements: asList(resp.movements).length };
  });
  await runStep(steps, 'blockedFault', async () => {
    try {
      await client.CreditVendAsync({
        ...base, msgID: msgID(6), meterNumber: arg('BLOCKED_METER'), amount: '50.00', payType: 'cash',
      });
    } catch (err) {
      const fault = err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
      const detail = fault && fault.detail && fault.detail.XMLVendFault;
      if (!detail) throw err;
      return { faultType: detail.faultType, faultcode: fault.faultcode, typedBy: 'err.root.Envelope.Body.Fault.detail' };
    }
    throw new Error('a vend for the blocked meter succeeded');
  });
  await runStep(steps, 'wrongPassword', async () => {
    const wrong = await makeClient(`not-the-${arg('SECRET')}`);
    try {
      await wrong.VendorStatementAsync({ ...base, msgID: msgID(7) });
    } catch (err) {
      const fault = err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
      const status = err.response ? err.response.status : null;
      if (fault) {
        const detail = fault.detail && fault.detail.XMLVendFault;
        return { refused: 'fault', faultType: detail ? detail.faultType : null, faultcode: fault.faultcode, httpStatus: status };
      }
      // node-soap hands a body that is not XML to its parser and rejects with a plain object
      // {Fault: {faultcode: 500, faultstring: 'Invalid XML', ...}}: a parse failure that even
      // reports the wrong status, not a readable refusal.
      if (err.Fault && err.Fault.faultstring === 'Invalid XML') {
        return { refused: 'parse', httpStatus: status, message: `Invalid XML (reported as ${err.Fault.statusCode}): ${err.Fault.detail}` };
      }
      return { refused: 'http', httpStatus: status, message: describe(err) };
    }
    throw new Error('a wrong password was accepted');
  });
  await runStep(steps, 'notAuthorised', async () => {
    // A terminal of the vendor whose allowlist leaves this address out: RequestAuthorisationEx.
    const fenced = await makeClient(arg('FENCED_SECRET'), arg('FENCED_TERMINAL'));
    try {
      await fenced.VendorStatementAsync({ clientID: arg('CLIENT_ID'), terminalID: arg('FENCED_TERMINAL'), msgID: msgID(8) });
    } catch (err) {
      const fault = err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
      const detail = fault && fault.detail && fault.detail.XMLVendFault;
      if (!detail) throw err;
      return { faultType: detail.faultType, faultcode: fault.faultcode, httpStatus: err.response ? err.response.status : null };
    }
    throw new Error('a terminal was served from an address its allowlist leaves out');
  });
  await runStep(steps, 'soap12Envelope', () => soap12Step('VendorStatement', { ...base, msgID: msgID(10) }));
  await runStep(steps, 'trailingZeros', async () => {
    // 50.500: schema-valid for a 2-fraction-digit decimal, what decimal arithmetic produces.
    const [resp] = await client.CreditVendAsync({
      ...base, msgID: msgID(9), meterNumber: meter, amount: '50.500', payType: 'cash',
    });
    return { receiptNo: resp.receiptNo, tenderAmount: String(resp.tenderAmount) };
  });
  return steps;
}

async function main() {
  const result = { stack: `node-soap ${require('soap/package.json').version}`, endpoint: arg('ENDPOINT') };
  try {
    if (arg('ENDPOINT') === 'vend') {
      result.steps = await vendScenario();
    } else {
      // eslint-disable-next-line global-require
      result.steps = await require('./xmlvend.js').xmlvendScenario({
        arg, asList, tokensOf, msgID, makeClient, runStep, soap12Step,
      });
    }
  } catch (err) {
    result.error = describe(err);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main();
