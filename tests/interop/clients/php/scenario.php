<?php
// The interop scenario through PHP's SoapClient (ext-soap, Debian php-soap), as a PHP bank
// integration writes it: the client is built from the served WSDL at run time, HTTP Basic via
// the login/password options, faults caught as SoapFault with the detail ext-soap decodes from
// the fault message the WSDL declares; a classmap makes it an instance of our XMLVendFault class.
//
// Run by tests/interop/test_matrix.py: arguments arrive as INTEROP_* environment variables, the
// outcome of each step is printed as one JSON object.

declare(strict_types=1);

final class XMLVendFault
{
    public $faultType;
    public $code;
    public $desc;
}

function arg(string $name): string
{
    $value = getenv("INTEROP_$name");
    if ($value === false) {
        throw new RuntimeException("INTEROP_$name is not set");
    }
    return $value;
}

function as_list($value): array
{
    // ext-soap gives an element with maxOccurs > 1 as a scalar/object when it occurs once.
    if ($value === null) {
        return [];
    }
    return is_array($value) ? $value : [$value];
}

function tokens_of($transactions): array
{
    $tokens = [];
    foreach (as_list($transactions) as $tx) {
        foreach (as_list($tx->tokens ?? null) as $token) {
            $tokens[] = (string) $token;
        }
    }
    return $tokens;
}

function msg_id(int $n): array
{
    return ['dateTime' => gmdate('YmdHis'), 'uniqueNumber' => intval(arg('MSG_BASE')) + $n];
}

function make_client(string $secret, ?string $terminal = null): SoapClient
{
    return new SoapClient(arg('WSDL'), [
        'login' => arg('CLIENT_ID') . '/' . ($terminal ?? arg('TERMINAL_ID')),
        'password' => $secret,
        'authentication' => SOAP_AUTHENTICATION_BASIC,
        'exceptions' => true,
        'trace' => true,
        'cache_wsdl' => WSDL_CACHE_NONE,
        'classmap' => ['XMLVendFault' => 'XMLVendFault'],
        'connection_timeout' => 10,
    ]);
}

function run_step(array &$steps, string $name, callable $body): void
{
    try {
        $steps[$name] = ['ok' => true] + $body();
    } catch (SoapFault $fault) {
        $steps[$name] = ['ok' => false, 'error' => "SoapFault: {$fault->faultcode}: {$fault->getMessage()}"];
    } catch (Throwable $exc) {
        $steps[$name] = ['ok' => false, 'error' => get_class($exc) . ': ' . $exc->getMessage()];
    }
}

function http_status(SoapClient $client): ?int
{
    $headers = $client->__getLastResponseHeaders();
    if ($headers && preg_match('#^HTTP/\S+\s+(\d{3})#', $headers, $m)) {
        return intval($m[1]);
    }
    return null;
}

// The same request from a client set to SOAP 1.2 (soap_version SOAP_1_2: a SOAP 1.2 envelope,
// Content-Type application/soap+xml). The WSDL binds SOAP 1.1 only; the SOAP 1.1 answer to
// another envelope version is a VersionMismatch fault.
function soap12_step(string $operation, array $request): array
{
    $client = new SoapClient(arg('WSDL'), [
        'login' => arg('CLIENT_ID') . '/' . arg('TERMINAL_ID'),
        'password' => arg('SECRET'),
        'authentication' => SOAP_AUTHENTICATION_BASIC,
        'soap_version' => SOAP_1_2,
        'exceptions' => true,
        'trace' => true,
        'cache_wsdl' => WSDL_CACHE_NONE,
    ]);
    try {
        $client->$operation($request);
    } catch (SoapFault $fault) {
        return ['faultcode' => $fault->faultcode, 'message' => $fault->getMessage(), 'httpStatus' => http_status($client)];
    }
    throw new RuntimeException('a SOAP 1.2 envelope was served by a SOAP 1.1 endpoint');
}

function vend_scenario(): array
{
    $client = make_client(arg('SECRET'));
    $base = ['clientID' => arg('CLIENT_ID'), 'terminalID' => arg('TERMINAL_ID')];
    $meter = arg('METER');
    $steps = [];
    $sold = null;

    run_step($steps, 'confirm', function () use ($client, $base, $meter) {
        $resp = $client->ConfirmCustomer($base + ['msgID' => msg_id(1), 'meterNumber' => $meter]);
        return ['customerName' => $resp->customer->name, 'msno' => $resp->meter->msno];
    });
    $sold = msg_id(2);
    $vend = function () use ($client, $base, $meter, $sold) {
        $resp = $client->CreditVend($base + [
            'msgID' => $sold, 'meterNumber' => $meter, 'amount' => '50.00', 'payType' => 'cash',
        ]);
        return ['receiptNo' => $resp->receiptNo, 'tokens' => tokens_of($resp->transactions ?? null)];
    };
    run_step($steps, 'vend', $vend);
    run_step($steps, 'replay', $vend);
    run_step($steps, 'lastResponse', function () use ($client, $base, $sold) {
        $resp = $client->LastResponseAdvice($base + ['msgID' => msg_id(3), 'originalMsgID' => $sold]);
        return ['receiptNo' => $resp->receiptNo, 'tokens' => tokens_of($resp->transactions ?? null)];
    });
    run_step($steps, 'reprint', function () use ($client, $base, $meter) {
        $resp = $client->Reprint($base + ['msgID' => msg_id(4), 'meterNumber' => $meter]);
        $receipts = as_list($resp->receipts ?? null);
        return [
            'receiptNos' => array_map(fn ($r) => $r->receiptNo, $receipts),
            'tokens' => $receipts ? tokens_of($receipts[0]->transactions ?? null) : [],
        ];
    });
    run_step($steps, 'statement', function () use ($client, $base) {
        $resp = $client->VendorStatement($base + ['msgID' => msg_id(5), 'maxItems' => 5]);
        return ['availCredit' => (string) $resp->availCredit, 'movements' => count(as_list($resp->movements ?? null))];
    });
    run_step($steps, 'blockedFault', function () use ($client, $base) {
        try {
            $client->CreditVend($base + [
                'msgID' => msg_id(6), 'meterNumber' => arg('BLOCKED_METER'), 'amount' => '50.00',
                'payType' => 'cash',
            ]);
        } catch (SoapFault $fault) {
            // ext-soap decodes <detail> without the WSDL's fault message: the classmap applies
            // only when the detail element carries xsi:type, else it is a stdClass; both are
            // reported (typedBy), the faultType is read from the decoded object either way.
            $detail = $fault->detail->XMLVendFault ?? null;
            if (!is_object($detail) || !isset($detail->faultType)) {
                throw new RuntimeException(
                    "the fault detail did not decode: " . json_encode($fault->detail ?? null)
                    . " (faultcode {$fault->faultcode}: {$fault->getMessage()}, HTTP " . http_status($client) . ")"
                );
            }
            return ['faultType' => $detail->faultType, 'faultcode' => $fault->faultcode, 'typedBy' => get_class($detail)];
        }
        throw new RuntimeException('a vend for the blocked meter succeeded');
    });
    run_step($steps, 'wrongPassword', function () use ($base) {
        $wrong = make_client('not-the-' . arg('SECRET'));
        try {
            $wrong->VendorStatement($base + ['msgID' => msg_id(7)]);
        } catch (SoapFault $fault) {
            $detail = $fault->detail->XMLVendFault ?? null;
            if (is_object($detail) && isset($detail->faultType)) {
                return ['refused' => 'fault', 'faultType' => $detail->faultType, 'faultcode' => $fault->faultcode, 'httpStatus' => http_status($wrong)];
            }
            // ext-soap reports an HTTP error status without a SOAP body as faultcode "HTTP".
            return [
                'refused' => $fault->faultcode === 'HTTP' ? 'http' : 'other',
                'httpStatus' => http_status($wrong),
                'message' => $fault->faultcode . ': ' . $fault->getMessage(),
            ];
        }
        throw new RuntimeException('a wrong password was accepted');
    });
    run_step($steps, 'notAuthorised', function () {
        // A terminal of the vendor whose allowlist leaves this address out: RequestAuthorisationEx.
        $fenced = make_client(arg('FENCED_SECRET'), arg('FENCED_TERMINAL'));
        try {
            $fenced->VendorStatement(['clientID' => arg('CLIENT_ID'), 'terminalID' => arg('FENCED_TERMINAL'), 'msgID' => msg_id(8)]);
        } catch (SoapFault $fault) {
            $detail = $fault->detail->XMLVendFault ?? null;
            if (!is_object($detail) || !isset($detail->faultType)) {
                throw new RuntimeException("the fault detail did not decode (faultcode {$fault->faultcode}: {$fault->getMessage()}, HTTP " . http_status($fenced) . ")");
            }
            return ['faultType' => $detail->faultType, 'faultcode' => $fault->faultcode, 'httpStatus' => http_status($fenced)];
        }
        throw new RuntimeException('a terminal was served from an address its allowlist leaves out');
    });
    run_step($steps, 'soap12Envelope', fn () => soap12_step('VendorStatement', $base + ['msgID' => msg_id(10)]));
    run_step($steps, 'trailingZeros', function () use ($client, $base, $meter) {
        // 50.500: schema-valid for a 2-fraction-digit decimal, what decimal arithmetic produces.
        $resp = $client->CreditVend($base + ['msgID' => msg_id(9), 'meterNumber' => $meter, 'amount' => '50.500', 'payType' => 'cash']);
        return ['receiptNo' => $resp->receiptNo, 'tenderAmount' => (string) $resp->tenderAmount];
    });
    return $steps;
}

$result = ['stack' => 'php-soapclient ' . PHP_VERSION, 'endpoint' => arg('ENDPOINT')];
try {
    if (arg('ENDPOINT') === 'vend') {
        $result['steps'] = vend_scenario();
    } else {
        require __DIR__ . '/xmlvend.php';
        $result['steps'] = xmlvend_scenario();
    }
} catch (Throwable $exc) {
    $result['error'] = get_class($exc) . ': ' . $exc->getMessage();
}
echo json_encode($result, JSON_UNESCAPED_SLASHES), "\n";
