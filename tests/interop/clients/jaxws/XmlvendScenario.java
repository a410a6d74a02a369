// The interop scenario on /xmlvend/2.1 through JAX-WS RI: run.sh generates the typed port with
// `wsimport` from the served WSDL into vendgw.interop.xmlvend, compiles this file against it and
// runs it. JAXB writes xsi:type for each subclass given where the schema declares an abstract
// type (EANDeviceID, VendIDMethod, LastRespAdviceReq, ...) and reads the answers' xsi:types back
// as those classes; a SOAP fault is the generated checked exception NRSFaultResponseSoapOut, whose
// getFaultInfo().getFault() is an instance of the XMLVend fault's own class (BlockedMeterEx, ...).

import java.math.BigDecimal;
import java.math.BigInteger;
import java.net.URL;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.TimeZone;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.WebServiceException;
import javax.xml.ws.soap.SOAPFaultException;
import vendgw.interop.xmlvend.AdviceResp;
import vendgw.interop.xmlvend.BaseReq;
import vendgw.interop.xmlvend.BaseResp;
import vendgw.interop.xmlvend.BaseVendResp;
import vendgw.interop.xmlvend.Cash;
import vendgw.interop.xmlvend.ConfirmCustResult;
import vendgw.interop.xmlvend.ConfirmCustomerReq;
import vendgw.interop.xmlvend.ConfirmCustomerResp;
import vendgw.interop.xmlvend.CreditVendReq;
import vendgw.interop.xmlvend.CreditVendResp;
import vendgw.interop.xmlvend.CreditVendTx;
import vendgw.interop.xmlvend.Currency;
import vendgw.interop.xmlvend.EANDeviceID;
import vendgw.interop.xmlvend.Electricity;
import vendgw.interop.xmlvend.GenericDeviceID;
import vendgw.interop.xmlvend.LastRespAdviceReq;
import vendgw.interop.xmlvend.LastRespAdviceResp;
import vendgw.interop.xmlvend.MeterNumber;
import vendgw.interop.xmlvend.MsgID;
import vendgw.interop.xmlvend.NRSFaultResponseSoapOut;
import vendgw.interop.xmlvend.PurchaseValueCurrency;
import vendgw.interop.xmlvend.ReprintReq;
import vendgw.interop.xmlvend.ReprintResp;
import vendgw.interop.xmlvend.STS1Token;
import vendgw.interop.xmlvend.Tx;
import vendgw.interop.xmlvend.VendIDMethod;
import vendgw.interop.xmlvend.VendorStatementReq;
import vendgw.interop.xmlvend.VendorStatementResp;
import vendgw.interop.xmlvend.XMLVendService;
import vendgw.interop.xmlvend.XMLVendServiceSoap;

public final class XmlvendScenario {
    private static XMLVendServiceSoap port(String secret, String terminal) throws Exception {
        XMLVendServiceSoap port = new XMLVendService(new URL(Steps.env("WSDL"))).getXMLVendServicePort();
        Map<String, Object> context = ((BindingProvider) port).getRequestContext();
        context.put(BindingProvider.USERNAME_PROPERTY, Steps.env("CLIENT_ID") + "/" + terminal);
        context.put(BindingProvider.PASSWORD_PROPERTY, secret);
        return port;
    }

    private static MsgID msgID(int n) {
        SimpleDateFormat stamp = new SimpleDateFormat("yyyyMMddHHmmss");
        stamp.setTimeZone(TimeZone.getTimeZone("UTC"));
        MsgID id = new MsgID();
        id.setDateTime(stamp.format(new Date()));
        id.setUniqueNumber(BigInteger.valueOf(Long.parseLong(Steps.env("MSG_BASE")) + n));
        return id;
    }

    private static <T extends BaseReq> T head(T req, MsgID id, String terminal) {
        EANDeviceID client = new EANDeviceID();
        client.setEan(Steps.env("CLIENT_ID"));
        GenericDeviceID term = new GenericDeviceID();
        term.setId(terminal);
        req.setClientID(client);
        req.setTerminalID(term);
        req.setMsgID(id);
        return req;
    }

    private static <T extends BaseReq> T head(T req, MsgID id) {
        return head(req, id, Steps.env("TERMINAL_ID"));
    }

    private static VendIDMethod byMeter(String meter) {
        MeterNumber number = new MeterNumber();
        number.setMsno(meter);
        VendIDMethod method = new VendIDMethod();
        method.setMeterIdentifier(number);
        return method;
    }

    private static Currency money(String amount) {
        Currency money = new Currency();
        money.setValue(new BigDecimal(amount));
        money.setSymbol("ZAR");
        return money;
    }

    private static CreditVendReq vendReq(MsgID id, String meter, String amount) {
        CreditVendReq req = head(new CreditVendReq(), id);
        req.setResource(new Electricity());
        req.setIdMethod(byMeter(meter));
        PurchaseValueCurrency value = new PurchaseValueCurrency();
        value.setAmt(money(amount));
        req.setPurchaseValue(value);
        Cash cash = new Cash();
        cash.setTenderAmt(money(amount));
        req.setPayType(cash);
        return req;
    }

    private static List<String> tokens(BaseResp resp) {
        List<String> out = new ArrayList<>();
        for (Tx tx : ((CreditVendResp) resp).getCreditVendReceipt().getTransactions().getTx()) {
            if (tx instanceof CreditVendTx) {
                out.add(((STS1Token) ((CreditVendTx) tx).getCreditTokenIssue().getToken()).getStsCipher());
            }
        }
        return out;
    }

    private static Map<String, Object> fault(NRSFaultResponseSoapOut exc) {
        String code = exc.getCause() instanceof SOAPFaultException
                ? ((SOAPFaultException) exc.getCause()).getFault().getFaultCode() : null;
        return Steps.map("faultType", exc.getFaultInfo().getFault().getClass().getSimpleName(),
                         "faultcode", code, "typedBy", "getFaultInfo().getFault() instanceof");
    }

    public static void main(String[] args) {
        Map<String, Object> result = Steps.map("stack", "jax-ws-ri " + System.getProperty("java.version"), "endpoint", "xmlvend");
        try {
            XMLVendServiceSoap port = port(Steps.env("SECRET"), Steps.env("TERMINAL_ID"));
            String meter = Steps.env("METER");
            MsgID sold = msgID(2);
            Steps steps = new Steps();
            steps.run("confirm", () -> {
                ConfirmCustomerReq req = head(new ConfirmCustomerReq(), msgID(1));
                req.setIdMethod(byMeter(meter));
                ConfirmCustomerResp resp = port.confirmCustomerRequest(req);
                ConfirmCustResult first = resp.getConfirmCustResult().get(0);
                return Steps.map("customerName", first.getCustVendDetail().getName(), "msno", first.getMeterDetail().getMsno());
            });
            Steps.Body vend = () -> {
                CreditVendResp resp = port.creditVendRequest(vendReq(sold, meter, "50.00"));
                return Steps.map("receiptNo", resp.getCreditVendReceipt().getReceiptNo(), "tokens", tokens(resp));
            };
            steps.run("vend", vend);
            steps.run("replay", vend);
            steps.run("lastResponse", () -> {
                LastRespAdviceReq req = head(new LastRespAdviceReq(), msgID(3));
                req.setAdviceReqMsgID(sold);
                AdviceResp resp = port.adviceRequest(req);
                BaseResp last = ((LastRespAdviceResp) resp).getLastResponse();
                return Steps.map("receiptNo", ((CreditVendResp) last).getCreditVendReceipt().getReceiptNo(), "tokens", tokens(last),
                                 "typedBy", resp.getClass().getSimpleName() + "/" + last.getClass().getSimpleName());
            });
            steps.run("reprint", () -> {
                ReprintReq req = head(new ReprintReq(), msgID(4));
                req.setIdMethod(byMeter(meter));
                ReprintResp resp = port.reprintRequest(req);
                List<String> numbers = new ArrayList<>();
                for (BaseVendResp copy : resp.getReprint()) {
                    numbers.add(((CreditVendResp) copy).getCreditVendReceipt().getReceiptNo());
                }
                List<String> first = resp.getReprint().isEmpty() ? new ArrayList<>() : tokens(resp.getReprint().get(0));
                return Steps.map("receiptNos", numbers, "tokens", first);
            });
            steps.run("statement", () -> {
                VendorStatementResp resp = port.vendorStatementRequest(head(new VendorStatementReq(), msgID(5)));
                return Steps.map("availCredit", resp.getStatement().getAvailCredit().getValue().toPlainString(),
                                 "movements", resp.getStatement().getLineItem().size());
            });
            steps.run("blockedFault", () -> {
                try {
                    port.creditVendRequest(vendReq(msgID(6), Steps.env("BLOCKED_METER"), "50.00"));
                } catch (NRSFaultResponseSoapOut exc) {
                    return fault(exc);
                }
                throw new IllegalStateException("a vend for the blocked meter succeeded");
            });
            steps.run("wrongPassword", () -> {
                XMLVendServiceSoap wrong = port("not-the-" + Steps.env("SECRET"), Steps.env("TERMINAL_ID"));
                try {
                    wrong.vendorStatementRequest(head(new VendorStatementReq(), msgID(7)));
                } catch (NRSFaultResponseSoapOut exc) {
                    Map<String, Object> read = fault(exc);
                    read.put("refused", "fault");
                    return read;
                } catch (WebServiceException exc) {
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("status code (\\d{3})").matcher(String.valueOf(exc.getMessage()));
                    return Steps.map("refused", "http", "httpStatus", m.find() ? Integer.valueOf(m.group(1)) : null, "message", Steps.describe(exc));
                }
                throw new IllegalStateException("a wrong password was accepted");
            });
            steps.run("notAuthorised", () -> {
                XMLVendServiceSoap fenced = port(Steps.env("FENCED_SECRET"), Steps.env("FENCED_TERMINAL"));
                try {
                    fenced.vendorStatementRequest(head(new VendorStatementReq(), msgID(8), Steps.env("FENCED_TERMINAL")));
                } catch (NRSFaultResponseSoapOut exc) {
                    return fault(exc);
                }
                throw new IllegalStateException("a terminal was served from an address its allowlist leaves out");
            });
            steps.run("trailingZeros", () -> {
                CreditVendResp resp = port.creditVendRequest(vendReq(msgID(9), meter, "50.500"));
                return Steps.map("receiptNo", resp.getCreditVendReceipt().getReceiptNo(),
                                 "tenderAmount", resp.getCreditVendReceipt().getTransactions().getTenderAmt().getValue().toPlainString());
            });
            result.put("steps", steps.steps);
        } catch (Throwable exc) {
            result.put("error", Steps.describe(exc));
        }
        System.out.println(Steps.json(result));
    }
}
