// The interop scenario on /vend through Mono's ASMX client stack (Debian mono-devel): run.sh
// generates the proxy with `wsdl` from the served WSDL (namespace VendgwInterop.Vend), compiles it
// with this file using mcs, and runs it. HTTP Basic through NetworkCredential; a SOAP fault arrives
// as System.Web.Services.Protocols.SoapException (ASMX's fault API: Code and the Detail node).

using System;
using System.Collections.Generic;
using System.Net;
using System.Web.Services.Protocols;
using System.Xml;
using VendgwInterop.Vend;

public static class VendScenario
{
    const string Tns = "urn:vendgw:xmlvend:2.1";

    static VendGateway Proxy(string secret, string terminal = null)
    {
        var proxy = new VendGateway();
        // The generated proxy keeps the WSDL's address; the served WSDL names the server we run.
        proxy.Url = Steps.Env("WSDL").Split('?')[0];
        proxy.Credentials = new NetworkCredential(Steps.Env("CLIENT_ID") + "/" + (terminal ?? Steps.Env("TERMINAL_ID")), secret);
        proxy.PreAuthenticate = true;
        proxy.Timeout = 20000;
        return proxy;
    }

    static MsgID Id(int n)
    {
        return new MsgID { dateTime = DateTime.UtcNow.ToString("yyyyMMddHHmmss"), uniqueNumber = long.Parse(Steps.Env("MSG_BASE")) + n };
    }

    static T Base<T>(T req, MsgID id) where T : BaseReq
    {
        req.clientID = Steps.Env("CLIENT_ID");
        req.terminalID = Steps.Env("TERMINAL_ID");
        req.msgID = id;
        return req;
    }

    static List<string> Tokens(Transaction[] transactions)
    {
        var tokens = new List<string>();
        foreach (var tx in transactions ?? new Transaction[0]) tokens.AddRange(tx.tokens ?? new string[0]);
        return tokens;
    }

    static VendReq Vend(MsgID id, string meter)
    {
        var req = Base(new VendReq(), id);
        req.meterNumber = meter;
        req.amount = 50.00m;
        req.payType = PayType.cash;
        return req;
    }

    // ASMX has no typed fault class: SoapException.Detail is the <detail> element, read by name.
    static string DetailText(SoapException exc, string name)
    {
        if (exc.Detail == null) return null;
        var ns = new XmlNamespaceManager(exc.Detail.OwnerDocument.NameTable);
        ns.AddNamespace("v", Tns);
        var node = exc.Detail.SelectSingleNode("v:XMLVendFault/v:" + name, ns);
        return node == null ? null : node.InnerText;
    }

    public static void Main()
    {
        var result = Steps.Map("stack", "mono-asmx " + Environment.Version, "endpoint", "vend");
        try
        {
            var proxy = Proxy(Steps.Env("SECRET"));
            var meter = Steps.Env("METER");
            var sold = Id(2);
            var steps = new Steps();
            steps.Run("confirm", () => {
                var req = Base(new MeterReq(), Id(1));
                req.meterNumber = meter;
                var resp = proxy.ConfirmCustomer(req);
                return Steps.Map("customerName", resp.customer.name, "msno", resp.meter.msno);
            });
            Steps.Body vend = () => {
                var resp = proxy.CreditVend(Vend(sold, meter));
                return Steps.Map("receiptNo", resp.receiptNo, "tokens", Tokens(resp.transactions));
            };
            steps.Run("vend", vend);
            steps.Run("replay", vend);
            steps.Run("lastResponse", () => {
                var req = Base(new AdviceReq(), Id(3));
                req.originalMsgID = sold;
                var resp = proxy.LastResponseAdvice(req);
                return Steps.Map("receiptNo", resp.receiptNo, "tokens", Tokens(resp.transactions));
            });
            steps.Run("reprint", () => {
                var req = Base(new ReprintReq(), Id(4));
                req.meterNumber = meter;
                var resp = proxy.Reprint(req);
                var numbers = new List<string>();
                foreach (var r in resp.receipts ?? new Receipt[0]) numbers.Add(r.receiptNo);
                var first = resp.receipts != null && resp.receipts.Length > 0 ? Tokens(resp.receipts[0].transactions) : new List<string>();
                return Steps.Map("receiptNos", numbers, "tokens", first);
            });
            steps.Run("statement", () => {
                var req = Base(new VendorStatementReq(), Id(5));
                req.maxItems = "5";
                var resp = proxy.VendorStatement(req);
                return Steps.Map("availCredit", resp.availCredit.ToString(System.Globalization.CultureInfo.InvariantCulture),
                                 "movements", (resp.movements ?? new Movement[0]).Length);
            });
            steps.Run("blockedFault", () => {
                try
                {
                    proxy.CreditVend(Vend(Id(6), Steps.Env("BLOCKED_METER")));
                }
                catch (SoapException exc)
                {
                    var faultType = DetailText(exc, "faultType");
                    if (faultType == null) throw new InvalidOperationException("the fault has no XMLVendFault detail: " + Steps.Describe(exc));
                    // clientFault: how .NET code tells "do not retry" from "retry later".
                    return Steps.Map("faultType", faultType, "faultcode", exc.Code.ToString(), "typedBy", "SoapException.Detail",
                                     "clientFault", exc.Code == SoapException.ClientFaultCode);
                }
                throw new InvalidOperationException("a vend for the blocked meter succeeded");
            });
            steps.Run("wrongPassword", () => {
                var wrong = Proxy("not-the-" + Steps.Env("SECRET"));
                try
                {
                    wrong.VendorStatement(Base(new VendorStatementReq(), Id(7)));
                }
                catch (SoapException exc)
                {
                    return Steps.Map("refused", "fault", "faultType", DetailText(exc, "faultType"), "faultcode", exc.Code.ToString());
                }
                catch (WebException exc)
                {
                    var http = exc.Response as HttpWebResponse;
                    return Steps.Map("refused", "http", "httpStatus", http == null ? (object)null : (int)http.StatusCode, "message", Steps.Describe(exc));
                }
                throw new InvalidOperationException("a wrong password was accepted");
            });
            steps.Run("notAuthorised", () => {
                // A terminal of the vendor whose allowlist leaves this address out: RequestAuthorisationEx.
                var fenced = Proxy(Steps.Env("FENCED_SECRET"), Steps.Env("FENCED_TERMINAL"));
                var req = Base(new VendorStatementReq(), Id(8));
                req.terminalID = Steps.Env("FENCED_TERMINAL");
                try
                {
                    fenced.VendorStatement(req);
                }
                catch (SoapException exc)
                {
                    var faultType = DetailText(exc, "faultType");
                    if (faultType == null) throw new InvalidOperationException("the fault has no XMLVendFault detail: " + Steps.Describe(exc));
                    return Steps.Map("faultType", faultType, "faultcode", exc.Code.ToString());
                }
                throw new InvalidOperationException("a terminal was served from an address its allowlist leaves out");
            });
            steps.Run("trailingZeros", () => {
                // 50.500m: what .NET decimal arithmetic produces (50.50m * 1.0m); schema-valid.
                var req = Vend(Id(9), meter);
                req.amount = 50.50m * 1.0m;
                var resp = proxy.CreditVend(req);
                return Steps.Map("receiptNo", resp.receiptNo, "tenderAmount", resp.tenderAmount.ToString(System.Globalization.CultureInfo.InvariantCulture));
            });
            var ordered = new Dictionary<string, object>();
            foreach (var name in steps.Order) ordered[name] = steps.Outcomes[name];
            result["steps"] = ordered;
        }
        catch (Exception exc)
        {
            result["error"] = Steps.Describe(exc);
        }
        Console.WriteLine(Steps.Json(result));
    }
}
