<?php
// The interop scenario on /xmlvend/2.1 through PHP's SoapClient: requests built as arrays, with
// SoapVar naming the XMLVend 2.1 type wherever the schema declares an abstract one (ext-soap then
// writes xsi:type and serialises the attributes by the WSDL's type); answers decoded by the
// xsi:types they carry. A fault's xmlvendFaultResp detail is decoded without the WSDL (ext-soap
// does not use the operation's fault message), so its xsi:typed `fault` comes back as a SoapVar
// that carries the type's name (enc_stype): that is the typed value PHP code reads.

declare(strict_types=1);

const XV_B = 'http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema';
const XV_R = 'http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema';

function xv_client(string $secret, ?string $terminal = null): SoapClient
{
    return new SoapClient(arg('WSDL'), [
        'login' => arg('CLIENT_ID') . '/' . ($terminal ?? arg('TERMINAL_ID')),
        'password' => $secret,
        'authentication' => SOAP_AUTHENTICATION_BASIC,
        'exceptions' => true,
        'trace' => true,
        'cache_wsdl' => WSDL_CACHE_NONE,
        'connection_timeout' => 10,
    ]);
}

function xv_typed(array $value, string $type, string $ns = XV_B): SoapVar
{
    return new SoapVar($value, SOAP_ENC_OBJECT, $type, $ns);
}

function xv_head(int $n, ?string $terminal = null, ?array $msg = null): array
{
    return [
        'clientID' => xv_typed(['ean' => arg('CLIENT_ID')], 'EANDeviceID'),
        'terminalID' => xv_typed(['id' => $terminal ?? arg('TERMINAL_ID')], 'GenericDeviceID'),
        'msgID' => $msg ?? xv_msg($n),
    ];
}

function xv_msg(int $n): array
{
    return ['dateTime' => gmdate('YmdHis'), 'uniqueNumber' => intval(arg('MSG_BASE')) + $n];
}

function xv_by_meter(string $meter): SoapVar
{
    return xv_typed(['meterIdentifier' => xv_typed(['msno' => $meter], 'MeterNumber')], 'VendIDMethod');
}

function xv_money(string $amount): array
{
    return ['value' => $amount, 'symbol' => 'ZAR'];
}

function xv_vend(SoapClient $client, array $head, string $meter, string $amount)
{
    return $client->CreditVendRequest($head + [
        'resource' => xv_typed([], 'Electricity'),
        'idMethod' => xv_by_meter($meter),
        'purchaseValue' => xv_typed(['amt' => xv_money($amount)], 'PurchaseValueCurrency', XV_R),
        'payType' => xv_typed(['tenderAmt' => xv_money($amount)], 'Cash'),
    ]);
}

function xv_tokens($vendResp): array
{
    $tokens = [];
    foreach (as_list($vendResp->creditVendReceipt->transactions->tx ?? null) as $tx) {
        if (isset($tx->creditTokenIssue)) {
            $tokens[] = (string) $tx->creditTokenIssue->token->stsCipher;
        }
    }
    return $tokens;
}

function xv_fault(SoapFault $fault, SoapClient $client): array
{
    $detail = $fault->detail->xmlvendFaultResp ?? null;
    $inner = is_object($detail) ? ($detail->fault ?? null) : null;
    if (!is_object($inner)) {
        throw new RuntimeException("the fault detail did not decode: " . json_encode($fault->detail ?? null)
            . " (faultcode {$fault->faultcode}: {$fault->getMessage()}, HTTP " . http_status($client) . ")");
    }
    if ($inner instanceof SoapVar) {
        // ext-soap decodes <detail> without the WSDL's fault message: an element with an xsi:type
        // it cannot map becomes a SoapVar that keeps the type's name (enc_stype).
        return ['faultType' => $inner->enc_stype, 'faultcode' => $fault->faultcode, 'typedBy' => 'SoapVar enc_stype'];
    }
    return ['faultType' => get_class($inner), 'faultcode' => $fault->faultcode, 'typedBy' => 'classmap instance'];
}

function xmlvend_scenario(): array
{
    $client = xv_client(arg('SECRET'));
    $meter = arg('METER');
    $steps = [];
    $sold = xv_head(2);

    run_step($steps, 'confirm', function () use ($client, $meter) {
        $resp = $client->ConfirmCustomerRequest(xv_head(1) + ['idMethod' => xv_by_meter($meter)]);
        $first = as_list($resp->confirmCustResult)[0];
        return ['customerName' => $first->custVendDetail->name, 'msno' => $first->meterDetail->msno];
    });
    $vend = function () use ($client, $meter, $sold) {
        $resp = xv_vend($client, $sold, $meter, '50.00');
        return ['receiptNo' => $resp->creditVendReceipt->receiptNo, 'tokens' => xv_tokens($resp)];
    };
    run_step($steps, 'vend', $vend);
    run_step($steps, 'replay', $vend);
    run_step($steps, 'lastResponse', function () use ($client, $sold) {
        // adviceReq's declared type is abstract: the whole request is a SoapVar of LastRespAdviceReq.
        $resp = $client->AdviceRequest(xv_typed(xv_head(3) + ['adviceReqMsgID' => $sold['msgID']], 'LastRespAdviceReq'));
        $last = $resp->lastResponse;
        return ['receiptNo' => $last->creditVendReceipt->receiptNo, 'tokens' => xv_tokens($last)];
    });
    run_step($steps, 'reprint', function () use ($client, $meter) {
        $resp = $client->ReprintRequest(xv_head(4) + ['idMethod' => xv_by_meter($meter)]);
        $copies = as_list($resp->reprint ?? null);
        return [
            'receiptNos' => array_map(fn ($c) => $c->creditVendReceipt->receiptNo, $copies),
            'tokens' => $copies ? xv_tokens($copies[0]) : [],
        ];
    });
    run_step($steps, 'statement', function () use ($client) {
        $resp = $client->VendorStatementRequest(xv_head(5));
        return [
            'availCredit' => (string) $resp->statement->availCredit->value,
            'movements' => count(as_list($resp->statement->lineItem ?? null)),
        ];
    });
    run_step($steps, 'blockedFault', function () use ($client) {
        try {
            xv_vend($client, xv_head(6), arg('BLOCKED_METER'), '50.00');
        } catch (SoapFault $fault) {
            return xv_fault($fault, $client);
        }
        throw new RuntimeException('a vend for the blocked meter succeeded');
    });
    run_step($steps, 'wrongPassword', function () {
        $wrong = xv_client('not-the-' . arg('SECRET'));
        try {
            $wrong->VendorStatementRequest(xv_head(7));
        } catch (SoapFault $fault) {
            if (isset($fault->detail->xmlvendFaultResp)) {
                return ['refused' => 'fault', 'httpStatus' => http_status($wrong)] + xv_fault($fault, $wrong);
            }
            return [
                'refused' => $fault->faultcode === 'HTTP' ? 'http' : 'other',
                'httpStatus' => http_status($wrong),
                'message' => $fault->faultcode . ': ' . $fault->getMessage(),
            ];
        }
        throw new RuntimeException('a wrong password was accepted');
    });
    run_step($steps, 'notAuthorised', function () {
        $fenced = xv_client(arg('FENCED_SECRET'), arg('FENCED_TERMINAL'));
        try {
            $fenced->VendorStatementRequest(xv_head(8, arg('FENCED_TERMINAL')));
        } catch (SoapFault $fault) {
            return xv_fault($fault, $fenced) + ['httpStatus' => http_status($fenced)];
        }
        throw new RuntimeException('a terminal was served from an address its allowlist leaves out');
    });
    run_step($steps, 'soap12Envelope', fn () => soap12_step('VendorStatementRequest', xv_head(10)));
    run_step($steps, 'trailingZeros', function () use ($client, $meter) {
        $resp = xv_vend($client, xv_head(9), $meter, '50.500');
        return [
            'receiptNo' => $resp->creditVendReceipt->receiptNo,
            'tenderAmount' => (string) $resp->creditVendReceipt->transactions->tenderAmt->value,
        ];
    });
    return $steps;
}
