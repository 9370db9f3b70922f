using System.Text.Json.Nodes;

namespace BreakGlassBot.Tests.Support;

/// <summary>The real payloads the tests read, in tests/BreakGlassBot.Tests/Fixtures (each folder's SOURCES.md says where they come from).</summary>
public static class Fixtures
{
    public static readonly string RepositoryRoot = FindRepositoryRoot();
    public static readonly string Root = Path.Combine(RepositoryRoot, "tests", "BreakGlassBot.Tests", "Fixtures");

    public static string Path_(string relative) => Path.Combine(Root, relative);
    public static string Text(string relative) => File.ReadAllText(Path_(relative));
    public static byte[] Bytes(string relative) => File.ReadAllBytes(Path_(relative));
    public static JsonNode Json(string relative) => JsonNode.Parse(Text(relative))!;
    public static JsonObject Object(string relative) => Json(relative).AsObject();

    static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "BreakGlassBot.sln"))) return dir.FullName;
        throw new InvalidOperationException("BreakGlassBot.sln not found above " + AppContext.BaseDirectory);
    }
}
