using System.Reflection;
using System.Text;

namespace Sandboxing.Tests.Shared;

/// <summary>
/// Writes an assembly's public surface as text, one member a line, so that a test can compare
/// it with an approved snapshot and a change to the API shows up as a diff in review.
/// Shared by the test projects (linked, not referenced).
/// </summary>
internal static class PublicApiSnapshot
{
    /// <summary>
    /// Fails when <paramref name="assembly"/>'s API differs from <paramref name="approvedFile"/>
    /// (next to the test binary), writing the actual API beside it to copy over when intended.
    /// </summary>
    public static void AssertMatches(Assembly assembly, string approvedFile, string sourcePath)
    {
        string actual = Describe(assembly);
        string approved = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, approvedFile));
        if (Normalize(approved) != Normalize(actual))
        {
            string received = Path.Combine(AppContext.BaseDirectory, Path.ChangeExtension(approvedFile, ".received.txt"));
            File.WriteAllText(received, actual);
            Xunit.Assert.Fail($"The public API changed. Review {received} and copy it over {sourcePath} if intended.");
        }
    }

    public static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal).Trim();

    public static string Describe(Assembly assembly)
    {
        var text = new StringBuilder();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            text.Append(Kind(type)).Append(' ').Append(type.FullName);
            if (type.BaseType is { } baseType && baseType != typeof(object) && baseType != typeof(Enum) && baseType != typeof(ValueType))
                text.Append(" : ").Append(Name(baseType));
            var interfaces = type.GetInterfaces().Select(Name).Order(StringComparer.Ordinal).ToArray();
            if (interfaces.Length > 0 && !type.IsEnum)
                text.Append(type.BaseType is { } b && b != typeof(object) ? ", " : " : ").AppendJoin(", ", interfaces);
            text.Append('\n');

            const BindingFlags flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            var nullability = new NullabilityInfoContext();
            var members = new List<(string Key, string Text)>();
            if (type.IsEnum)
            {
                foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Static))
                    members.Add(($"{Convert.ToInt64(field.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture):D8}", $"{field.Name} = {Convert.ToInt64(field.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture)}"));
            }
            else
            {
                foreach (var field in type.GetFields(flags))
                    members.Add((field.Name, $"{(field.IsLiteral ? "const " : field.IsStatic ? "static " : "")}{Name(field.FieldType, nullability.Create(field))} {field.Name}{(field.IsLiteral ? " = " + field.GetRawConstantValue() : "")}"));
                foreach (var ctor in type.GetConstructors(flags))
                    members.Add((".ctor", $"ctor({Parameters(ctor, nullability)})"));
                foreach (var property in type.GetProperties(flags))
                {
                    var getter = property.GetMethod;
                    members.Add((property.Name, $"{(getter?.IsStatic == true ? "static " : "")}{Name(property.PropertyType, nullability.Create(property))} {property.Name} {{ {(getter?.IsPublic == true ? "get; " : "")}{(property.SetMethod?.IsPublic == true ? "set; " : "")}}}"));
                }
                foreach (var method in type.GetMethods(flags).Where(m => !m.IsSpecialName))
                    members.Add((method.Name, $"{(method.IsStatic ? "static " : "")}{Name(method.ReturnType, nullability.Create(method.ReturnParameter))} {method.Name}({Parameters(method, nullability)})"));
            }
            foreach (var (_, member) in members.OrderBy(m => m.Key, StringComparer.Ordinal).ThenBy(m => m.Text, StringComparer.Ordinal))
                text.Append("    ").Append(member).Append('\n');
        }
        return text.ToString();
    }

    private static string Kind(Type type) =>
        type.IsInterface ? "interface"
        : type.IsEnum ? "enum"
        : type.IsValueType ? "struct"
        : type.IsAbstract && type.IsSealed ? "static class"
        : type.IsSealed ? "sealed class"
        : type.IsAbstract ? "abstract class"
        : "class";

    private static string Parameters(MethodBase method, NullabilityInfoContext nullability) =>
        string.Join(", ", method.GetParameters().Select(p => $"{(p.IsOut ? "out " : p.ParameterType.IsByRef ? "ref " : "")}{Name(p.ParameterType, nullability.Create(p))} {p.Name}"));

    private static string Name(Type type, NullabilityInfo info) =>
        Name(type) + (!type.IsValueType && info.ReadState == NullabilityState.Nullable ? "?" : "");

    private static string Name(Type type)
    {
        if (type.IsByRef)
            return Name(type.GetElementType()!);
        if (Nullable.GetUnderlyingType(type) is { } underlying)
            return Name(underlying) + "?";
        if (type.IsArray)
            return Name(type.GetElementType()!) + "[]";
        if (!type.IsGenericType)
            return type.Namespace is "System" or "Sandboxing" or "Sandboxing.Cgroups" ? type.Name : type.FullName ?? type.Name;
        string name = type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)];
        string ns = type.Namespace is "System" or "Sandboxing" or "Sandboxing.Cgroups" ? "" : type.Namespace + ".";
        return $"{ns}{name}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>";
    }
}
