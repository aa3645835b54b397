using System.Reflection;
using System.Text.RegularExpressions;
using Sandboxing.Helper;

namespace Sandboxing.Tests;

/// <summary>protocol.h and HelperProtocol.cs describe one protocol.</summary>
public partial class ProtocolTests
{
    [GeneratedRegex(@"^#define (SBX_\w+) (.+?)\s*(/\*.*)?$", RegexOptions.Multiline)]
    private static partial Regex Define();

    [Fact]
    public void Every_constant_in_protocol_h_has_the_same_value_in_CSharp()
    {
        string header = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "protocol.h"));
        var fields = typeof(HelperProtocol).GetFields(BindingFlags.Public | BindingFlags.Static | BindingFlags.NonPublic)
            .Where(f => f.IsLiteral).ToDictionary(f => f.Name, f => Convert.ToInt64(f.GetRawConstantValue()));
        var defines = Define().Matches(header).Where(m => m.Groups[1].Value != "SBX_PROTOCOL_H").ToList();
        Assert.NotEmpty(defines);
        foreach (Match m in defines)
        {
            string name = string.Concat(m.Groups[1].Value[4..].Split('_').Select(p => p[0] + p[1..].ToLowerInvariant()));
            if (m.Groups[2].Value.Contains(','))
            {
                var list = (int[]?)typeof(HelperProtocol).GetField(name, BindingFlags.Public | BindingFlags.Static | BindingFlags.NonPublic)?.GetValue(null);
                Assert.True(list is not null, $"{m.Groups[1].Value} has no C# twin {name}");
                Assert.Equal(m.Groups[2].Value.Split(',').Select(v => (int)Evaluate(v)), list);
                continue;
            }
            Assert.True(fields.TryGetValue(name, out long value), $"{m.Groups[1].Value} has no C# twin {name}");
            Assert.Equal(Evaluate(m.Groups[2].Value), value);
        }
        Assert.Equal(defines.Count(d => !d.Groups[2].Value.Contains(',')), fields.Count);
    }

    /// <summary>The header's values are integers, hex, OR-ed flags or products, with optional 'u'.</summary>
    private static long Evaluate(string expression)
    {
        string e = expression.Replace("(", "").Replace(")", "").Replace(" ", "");
        if (e.Contains('*'))
            return e.Split('*').Select(Evaluate).Aggregate(1L, (a, b) => a * b);
        if (e.Contains('|'))
            return e.Split('|').Select(Evaluate).Aggregate(0L, (a, b) => a | b);
        e = e.TrimEnd('u', 'U');
        return e.StartsWith("0x") ? Convert.ToInt64(e[2..], 16) : long.Parse(e);
    }
}
