// The interop scenario on /vend through JAX-WS RI (Debian jaxws): run.sh generates the typed port
// with `wsimport` from the served WSDL into the package vendgw.interop.vend, compiles this file
// against it, and runs it. HTTP Basic through BindingProvider's username/password; a SOAP fault
// arrives as the checked XMLVendFault_Exception wsimport generated, its getFaultInfo() the typed
// detail.

import java.math.BigDecimal;
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
import vendgw.interop.vend.BaseReq;
import vendgw.interop.vend.ConfirmCustomerResp;
import vendgw.interop.vend.AdviceReq;
import vendgw.interop.vend.MeterReq;
import vendgw.interop.vend.MsgID;
import vendgw.interop.vend.PayType;
import vendgw.interop.vend.Receipt;
import vendgw.interop.vend.ReprintReq;
import vendgw.interop.vend.ReprintResp;
import vendgw.interop.vend.Transaction;
import vendgw.interop.vend.VendGateway;
import vendgw.interop.vend.VendGateway_Service;
import vendgw.interop.vend.VendReq;
import vendgw.interop.vend.VendResp;
import vendgw.interop.vend.VendorStatementReq;
import vendgw.interop.vend.VendorStatementResp;
import vendgw.interop.vend.XMLVendFault;
import vendgw.interop.vend.XMLVendFault_Exception;

public final class VendScenario {
    private static VendGateway port(String secret) throws Exception {
        return port(secret, Steps.env("TERMINAL_ID"));
    }

    private static VendGateway port(String secret, String terminal) throws Exception {
        VendGateway port = new VendGateway_Service(new URL(Steps.env("WSDL"))).getVendGateway();
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
        id.setUniqueNumber(Long.parseLong(Steps.env("MSG_BASE")) + n);
        return id;
    }

    private static <T extends BaseReq> T base(T req, MsgID id) {
        req.setClientID(Steps.env("CLIENT_ID"));
        req.setTerminalID(Steps.env("TERMINAL_ID"));
        req.setMsgID(id);
        return req;
    }

    private static List<String> tokens(List<Transaction> transactions) {
        List<String> out = new ArrayList<>();
        for (Transaction tx : transactions) {
            out.addAll(tx.getTokens());
        }
        return out;
    }

    private static VendReq vendReq(MsgID id, String meter) {
        VendReq req = base(new VendReq(), id);
        req.setMeterNumber(meter);
        req.setAmount(new BigDecimal("50.00"));
        req.setPayType(PayType.CASH);
        return req;
    }

    public static void main(String[] args) {
        Map<String, Object> result = Steps.map("stack", "jax-ws-ri " + System.getProperty("java.version"), "endpoint", "vend");
        try {
            VendGateway port = port(Steps.env("SECRET"));
            String meter = Steps.env("METER");
            MsgID sold = msgID(2);
            Steps steps = new Steps();
            steps.run("confirm", () -> {
                MeterReq req = base(new MeterReq(), msgID(1));
                req.setMeterNumber(meter);
                ConfirmCustomerResp resp = port.confirmCustomer(req);
                return Steps.map("customerName", resp.getCustomer().getName(), "msno", resp.getMeter().getMsno());
            });
            Steps.Body vend = () -> {
                VendResp resp = port.creditVend(vendReq(sold, meter));
                return Steps.map("receiptNo", resp.getReceiptNo(), "tokens", tokens(resp.getTransactions()));
            };
            steps.run("vend", vend);
            steps.run("replay", vend);
            steps.run("lastResponse", () -> {
                AdviceReq req = base(new AdviceReq(), msgID(3));
                req.setOriginalMsgID(sold);
                VendResp resp = port.lastResponseAdvice(req);
                return Steps.map("receiptNo", resp.getReceiptNo(), "tokens", tokens(resp.getTransactions()));
            });
            steps.run("reprint", () -> {
                ReprintReq req = base(new ReprintReq(), msgID(4));
                req.setMeterNumber(meter);
                ReprintResp resp = port.reprint(req);
                List<String> numbers = new ArrayList<>();
                for (Receipt r : resp.getReceipts()) {
                    numbers.add(r.getReceiptNo());
                }
                List<String> first = resp.getReceipts().isEmpty()
                        ? new ArrayList<>() : tokens(resp.getReceipts().get(0).getTransactions());
                return Steps.map("receiptNos", numbers, "tokens", first);
            });
            steps.run("statement", () -> {
                VendorStatementReq req = base(new VendorStatementReq(), msgID(5));
                req.setMaxItems(5);
                VendorStatementResp resp = port.vendorStatement(req);
                return Steps.map("availCredit", resp.getAvailCredit().toPlainString(), "movements", resp.getMovements().size());
            });
            steps.run("blockedFault", () -> {
                try {
                    port.creditVend(vendReq(msgID(6), Steps.env("BLOCKED_METER")));
                } catch (XMLVendFault_Exception exc) {
                    XMLVendFault info = exc.getFaultInfo();
                    String code = exc.getCause() instanceof SOAPFaultException
                            ? ((SOAPFaultException) exc.getCause()).getFault().getFaultCode() : null;
                    return Steps.map("faultType", info.getFaultType(), "faultcode", code, "typedBy", exc.getClass().getSimpleName());
                }
                throw new IllegalStateException("a vend for the blocked meter succeeded");
            });
            steps.run("wrongPassword", () -> {
                VendGateway wrong = port("not-the-" + Steps.env("SECRET"));
                try {
                    wrong.vendorStatement(base(new VendorStatementReq(), msgID(7)));
                } catch (XMLVendFault_Exception exc) {
                    return Steps.map("refused", "fault", "faultType", exc.getFaultInfo().getFaultType());
                } catch (SOAPFaultException exc) {
                    return Steps.map("refused", "fault", "faultType", null, "faultcode", exc.getFault().getFaultCode());
                } catch (WebServiceException exc) {
                    // JAX-WS RI: "The server sent HTTP status code 401: Unauthorized".
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("status code (\\d{3})").matcher(String.valueOf(exc.getMessage()));
                    return Steps.map("refused", "http", "httpStatus", m.find() ? Integer.valueOf(m.group(1)) : null, "message", Steps.describe(exc));
                }
                throw new IllegalStateException("a wrong password was accepted");
            });
            steps.run("notAuthorised", () -> {
                // A terminal of the vendor whose allowlist leaves this address out: RequestAuthorisationEx.
                VendGateway fenced = port(Steps.env("FENCED_SECRET"), Steps.env("FENCED_TERMINAL"));
                VendorStatementReq req = base(new VendorStatementReq(), msgID(8));
                req.setTerminalID(Steps.env("FENCED_TERMINAL"));
                try {
                    fenced.vendorStatement(req);
                } catch (XMLVendFault_Exception exc) {
                    return Steps.map("faultType", exc.getFaultInfo().getFaultType(), "typedBy", exc.getClass().getSimpleName());
                }
                throw new IllegalStateException("a terminal was served from an address its allowlist leaves out");
            });
            steps.run("trailingZeros", () -> {
                // 50.500: schema-valid for a 2-fraction-digit decimal, what BigDecimal arithmetic produces.
                VendReq req = vendReq(msgID(9), meter);
                req.setAmount(new BigDecimal("50.500"));
                VendResp resp = port.creditVend(req);
                return Steps.map("receiptNo", resp.getReceiptNo(), "tenderAmount", resp.getTenderAmount().toPlainString());
            });
            result.put("steps", steps.steps);
        } catch (Throwable exc) {
            result.put("error", Steps.describe(exc));
        }
        System.out.println(Steps.json(result));
    }
}
