// Shared by the JAX-WS scenarios: run a step, keep its outcome, print them all as one JSON
// object (the JDK has no JSON library; the values here are strings, numbers, booleans and lists).

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

final class Steps {
    interface Body {
        Map<String, Object> run() throws Exception;
    }

    final Map<String, Object> steps = new LinkedHashMap<>();

    void run(String name, Body body) {
        Map<String, Object> outcome = new LinkedHashMap<>();
        try {
            Map<String, Object> values = body.run();
            outcome.put("ok", true);
            outcome.putAll(values);
        } catch (Throwable exc) {
            outcome.put("ok", false);
            outcome.put("error", describe(exc));
        }
        steps.put(name, outcome);
    }

    static String describe(Throwable exc) {
        StringBuilder text = new StringBuilder(exc.getClass().getName() + ": " + exc.getMessage());
        for (Throwable cause = exc.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            text.append(" <- ").append(cause.getClass().getName()).append(": ").append(cause.getMessage());
        }
        return text.toString();
    }

    static Map<String, Object> map(Object... pairs) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            out.put((String) pairs[i], pairs[i + 1]);
        }
        return out;
    }

    static String env(String name) {
        String value = System.getenv("INTEROP_" + name);
        if (value == null) {
            throw new IllegalStateException("INTEROP_" + name + " is not set");
        }
        return value;
    }

    static String json(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Boolean || value instanceof Number) {
            return value.toString();
        }
        if (value instanceof Map) {
            List<String> items = new ArrayList<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                items.add(json(String.valueOf(e.getKey())) + ":" + json(e.getValue()));
            }
            return "{" + String.join(",", items) + "}";
        }
        if (value instanceof Iterable) {
            List<String> items = new ArrayList<>();
            for (Object item : (Iterable<?>) value) {
                items.add(json(item));
            }
            return "[" + String.join(",", items) + "]";
        }
        StringBuilder out = new StringBuilder("\"");
        for (char c : value.toString().toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }
}
