// Shared by the Mono scenarios: run a step, keep its outcome, print them all as one JSON object
// (a small writer of our own: the values are strings, numbers, booleans, lists and maps).

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

public sealed class Steps
{
    public delegate Dictionary<string, object> Body();

    public readonly Dictionary<string, object> Outcomes = new Dictionary<string, object>();
    public readonly List<string> Order = new List<string>();

    public void Run(string name, Body body)
    {
        var outcome = new Dictionary<string, object>();
        try
        {
            var values = body();
            outcome["ok"] = true;
            foreach (var pair in values) outcome[pair.Key] = pair.Value;
        }
        catch (Exception exc)
        {
            outcome["ok"] = false;
            outcome["error"] = Describe(exc);
        }
        Order.Add(name);
        Outcomes[name] = outcome;
    }

    public static string Describe(Exception exc)
    {
        var text = new StringBuilder(exc.GetType().FullName + ": " + exc.Message);
        // Mono's WebException message leaves its placeholders unfilled: say the status ourselves.
        var web = exc as System.Net.WebException;
        var http = web == null ? null : web.Response as System.Net.HttpWebResponse;
        if (http != null) text.Append(" (HTTP ").Append((int)http.StatusCode).Append(' ').Append(http.StatusDescription).Append(')');
        for (var inner = exc.InnerException; inner != null; inner = inner.InnerException)
            text.Append(" <- ").Append(inner.GetType().FullName).Append(": ").Append(inner.Message);
        return text.ToString();
    }

    public static Dictionary<string, object> Map(params object[] pairs)
    {
        var map = new Dictionary<string, object>();
        for (int i = 0; i < pairs.Length; i += 2) map[(string)pairs[i]] = pairs[i + 1];
        return map;
    }

    public static string Env(string name)
    {
        var value = Environment.GetEnvironmentVariable("INTEROP_" + name);
        if (value == null) throw new InvalidOperationException("INTEROP_" + name + " is not set");
        return value;
    }

    public static string Json(object value)
    {
        if (value == null) return "null";
        if (value is bool) return (bool)value ? "true" : "false";
        if (value is int || value is long || value is decimal || value is double)
            return Convert.ToString(value, CultureInfo.InvariantCulture);
        if (value is IDictionary)
        {
            var items = new List<string>();
            foreach (DictionaryEntry e in (IDictionary)value) items.Add(Json(e.Key.ToString()) + ":" + Json(e.Value));
            return "{" + string.Join(",", items) + "}";
        }
        if (value is IEnumerable && !(value is string))
        {
            var items = new List<string>();
            foreach (var item in (IEnumerable)value) items.Add(Json(item));
            return "[" + string.Join(",", items) + "]";
        }
        var text = new StringBuilder("\"");
        foreach (char c in value.ToString())
        {
            if (c == '"' || c == '\\') text.Append('\\').Append(c);
            else if (c < 0x20) text.AppendFormat("\\u{0:x4}", (int)c);
            else text.Append(c);
        }
        return text.Append('"').ToString();
    }
}
