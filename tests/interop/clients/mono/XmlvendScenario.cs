// The interop scenario on /xmlvend/2.1 through Mono's ASMX stack: run.sh generates the proxy with
// `wsdl` from the served WSDL (namespace VendgwInterop.Xmlvend), compiles it with this file using
// mcs and runs it. XmlSerializer writes xsi:type for each derived class given where the schema
// declares an abstract type and reads the answers' xsi:types back as those classes. ASMX hands a
// SOAP fault over as SoapException with the raw <detail>; the typed value is what .NET code does
// with it: XmlSerializer turns the detail's xmlvendFaultResp into the generated XMLVendFaultResp,
// whose `fault` is an instance of the XMLVend fault's own class (BlockedMeterEx, ...).

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Web.Services.Protocols;
using System.Xml;
using System.Xml.Serialization;
using VendgwInterop.Xmlvend;

public static class XmlvendScenario
{
    const string B = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema";

    static XMLVendService Proxy(string secret, string terminal)
    {
        var proxy = new XMLVendService();
        proxy.Url = Steps.Env("WSDL").Split('?')[0];
        proxy.Credentials = new NetworkCredential(Steps.Env("CLIENT_ID") + "/" + terminal, secret);
        proxy.PreAuthenticate = true;
        proxy.Timeout = 20000;
        return proxy;
    }

    static MsgID Id(int n)
    {
        return new MsgID { dateTime = DateTime.UtcNow.ToString("yyyyMMddHHmmss"), uniqueNumber = (long.Parse(Steps.Env("MSG_BASE")) + n).ToString(CultureInfo.InvariantCulture) };
    }

    static T Head<T>(T req, MsgID id, string terminal = null) where T : BaseReq
    {
        req.clientID = new EANDeviceID { ean = Steps.Env("CLIENT_ID") };
        req.terminalID = new GenericDeviceID { id = terminal ?? Steps.Env("TERMINAL_ID") };
        req.msgID = id;
        return req;
    }

    static VendIDMethod ByMeter(string meter)
    {
        return new VendIDMethod { meterIdentifier = new MeterNumber { msno = meter } };
    }

    static Currency Money(decimal amount)
    {
        return new Currency { value = amount, symbol = "ZAR" };
    }

    static CreditVendReq VendReq(MsgID id, string meter, decimal amount)
    {
        var req = Head(new CreditVendReq(), id);
        req.resource = new Electricity();
        req.idMethod = ByMeter(meter);
        req.purchaseValue = new PurchaseValueCurrency { amt = Money(amount) };
        req.payType = new Cash { tenderAmt = Money(amount) };
        return req;
    }

    static List<string> Tokens(BaseResp resp)
    {
        var tokens = new List<string>();
        foreach (var tx in ((CreditVendResp)resp).creditVendReceipt.transactions.tx)
        {
            var sale = tx as CreditVendTx;
            if (sale != null) tokens.Add(((STS1Token)sale.creditTokenIssue.token).stsCipher);
        }
        return tokens;
    }

    static Dictionary<string, object> Fault(SoapException exc)
    {
        XmlElement node = null;
        if (exc.Detail != null)
            foreach (XmlNode child in exc.Detail.ChildNodes)
                if (child is XmlElement && child.LocalName == "xmlvendFaultResp") node = (XmlElement)child;
        if (node == null) throw new InvalidOperationException("the fault has no xmlvendFaultResp detail: " + Steps.Describe(exc));
        var serializer = new XmlSerializer(typeof(XMLVendFaultResp), new XmlRootAttribute("xmlvendFaultResp") { Namespace = B });
        var resp = (XMLVendFaultResp)serializer.Deserialize(new XmlNodeReader(node));
        // clientFault: how .NET code tells "do not retry" from "retry later".
        return Steps.Map("faultType", resp.fault.GetType().Name, "faultcode", exc.Code.ToString(), "typedBy", "XmlSerializer(XMLVendFaultResp).fault",
                         "clientFault", exc.Code == SoapException.ClientFaultCode);
    }

    public static void Main()
    {
        var result = Steps.Map("stack", "mono-asmx " + Environment.Version, "endpoint", "xmlvend");
        try
        {
            var proxy = Proxy(Steps.Env("SECRET"), Steps.Env("TERMINAL_ID"));
            var meter = Steps.Env("METER");
            var sold = Id(2);
            var steps = new Steps();
            steps.Run("confirm", () => {
                var req = Head(new ConfirmCustomerReq(), Id(1));
                req.idMethod = ByMeter(meter);
                var first = proxy.ConfirmCustomerRequest(req).confirmCustResult[0];
                return Steps.Map("customerName", first.custVendDetail.name, "msno", first.meterDetail.msno);
            });
            Steps.Body vend = () => {
                var resp = proxy.CreditVendRequest(VendReq(sold, meter, 50.00m));
                return Steps.Map("receiptNo", resp.creditVendReceipt.receiptNo, "tokens", Tokens(resp));
            };
            steps.Run("vend", vend);
            steps.Run("replay", vend);
            steps.Run("lastResponse", () => {
                var req = Head(new LastRespAdviceReq(), Id(3));
                req.adviceReqMsgID = sold;
                var resp = proxy.AdviceRequest(req);
                var last = ((LastRespAdviceResp)resp).lastResponse;
                return Steps.Map("receiptNo", ((CreditVendResp)last).creditVendReceipt.receiptNo, "tokens", Tokens(last),
                                 "typedBy", resp.GetType().Name + "/" + last.GetType().Name);
            });
            steps.Run("reprint", () => {
                var req = Head(new ReprintReq(), Id(4));
                req.idMethod = ByMeter(meter);
                var resp = proxy.ReprintRequest(req);
                var numbers = new List<string>();
                foreach (var copy in resp.reprint ?? new BaseVendResp[0]) numbers.Add(((CreditVendResp)copy).creditVendReceipt.receiptNo);
                var first = resp.reprint != null && resp.reprint.Length > 0 ? Tokens(resp.reprint[0]) : new List<string>();
                return Steps.Map("receiptNos", numbers, "tokens", first);
            });
            steps.Run("statement", () => {
                var resp = proxy.VendorStatementRequest(Head(new VendorStatementReq(), Id(5)));
                return Steps.Map("availCredit", resp.statement.availCredit.value.ToString(CultureInfo.InvariantCulture),
                                 "movements", (resp.statement.lineItem ?? new VendorStatementLineItem[0]).Length);
            });
            steps.Run("blockedFault", () => {
                try
                {
                    proxy.CreditVendRequest(VendReq(Id(6), Steps.Env("BLOCKED_METER"), 50.00m));
                }
                catch (SoapException exc)
                {
                    return Fault(exc);
                }
                throw new InvalidOperationException("a vend for the blocked meter succeeded");
            });
            steps.Run("wrongPassword", () => {
                var wrong = Proxy("not-the-" + Steps.Env("SECRET"), Steps.Env("TERMINAL_ID"));
                try
                {
                    wrong.VendorStatementRequest(Head(new VendorStatementReq(), Id(7)));
                }
                catch (SoapException exc)
                {
                    var read = Fault(exc);
                    read["refused"] = "fault";
                    return read;
                }
                catch (WebException exc)
                {
                    var http = exc.Response as HttpWebResponse;
                    return Steps.Map("refused", "http", "httpStatus", http == null ? (object)null : (int)http.StatusCode, "message", Steps.Describe(exc));
                }
                throw new InvalidOperationException("a wrong password was accepted");
            });
            steps.Run("notAuthorised", () => {
                var fenced = Proxy(Steps.Env("FENCED_SECRET"), Steps.Env("FENCED_TERMINAL"));
                try
                {
                    fenced.VendorStatementRequest(Head(new VendorStatementReq(), Id(8), Steps.Env("FENCED_TERMINAL")));
                }
                catch (SoapException exc)
                {
                    return Fault(exc);
                }
                throw new InvalidOperationException("a terminal was served from an address its allowlist leaves out");
            });
            steps.Run("trailingZeros", () => {
                // 50.500m: what .NET decimal arithmetic produces (50.50m * 1.0m); schema-valid.
                var resp = proxy.CreditVendRequest(VendReq(Id(9), meter, 50.50m * 1.0m));
                return Steps.Map("receiptNo", resp.creditVendReceipt.receiptNo,
                                 "tenderAmount", resp.creditVendReceipt.transactions.tenderAmt.value.ToString(CultureInfo.InvariantCulture));
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
