using System.Text.RegularExpressions;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using NetArchTest.Rules;

namespace BreakGlassBot.Tests.Architecture;

/// <summary>
/// The folders of src/BreakGlassBot form one order (src/BreakGlassBot/README.md): each may use only the folders before it.
/// Checked on the compiled types (what the code really references) and on the source (a using alone is a reference too).
/// </summary>
public sealed partial class FolderOrderTests
{
    public static readonly string[] Order =
    [
        "Hosting", "Slack", "EmergencyChanges", "Outbox",
        "Declaring", "Reviewing", "Deadlines", "Jira", "GitHub", "Detection", "Digest", "Evidence", "Sandbox",
    ];

    static readonly string Source = Path.Combine(Fixtures.RepositoryRoot, "src", "BreakGlassBot");

    public static TheoryData<string> Folders() => [.. Order];

    [Theory]
    [MemberData(nameof(Folders))]
    public void CompiledTypesOfAFolderUseNoFolderAfterIt(string folder)
    {
        var later = Order.SkipWhile(f => f != folder).Skip(1).Select(f => "BreakGlassBot." + f).ToArray();
        if (later.Length == 0) return;
        var result = Types.InAssembly(typeof(ChangeStore).Assembly)
            .That().ResideInNamespace("BreakGlassBot." + folder)
            .ShouldNot().HaveDependencyOnAny(later)
            .GetResult();
        Assert.True(result.IsSuccessful,
            $"{folder} may use only {string.Join(", ", Order.TakeWhile(f => f != folder))}; these types reach further: "
            + string.Join(", ", result.FailingTypeNames ?? []));
    }

    [Fact]
    public void SourceFilesImportNoFolderAfterTheirOwn()
    {
        var problems = new List<string>();
        foreach (var (file, folder) in SourceFiles())
        {
            var position = Array.IndexOf(Order, folder);
            foreach (Match m in UsingPattern().Matches(File.ReadAllText(file)))
            {
                var used = m.Groups["folder"].Value;
                if (Array.IndexOf(Order, used) > position) problems.Add($"{Relative(file)} uses BreakGlassBot.{used}");
            }
        }
        Assert.True(problems.Count == 0, "Folders after a file's own may not be imported:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void EveryFileDeclaresTheNamespaceOfItsFolder()
    {
        var wrong = SourceFiles()
            .Where(f => NamespacePattern().Match(File.ReadAllText(f.File)) is not { Success: true } m || m.Groups["ns"].Value != "BreakGlassBot." + f.Folder)
            .Select(f => Relative(f.File)).ToList();
        Assert.True(wrong.Count == 0, "Declare the folder's namespace (BreakGlassBot.<Folder>) in:\n" + string.Join("\n", wrong));
    }

    [Fact]
    public void TheOrderNamesEveryFolder()
    {
        var folders = Directory.GetDirectories(Source).Select(d => Path.GetFileName(d)!).Where(d => d is not ("bin" or "obj")).Order().ToList();
        Assert.Equal(Order.Order().ToList(), folders);
    }

    [Fact]
    public void TheFolderMapInTheDesignReadmeFollowsTheOrder()
    {
        var readme = File.ReadAllText(Path.Combine(Source, "README.md"));
        var map = readme[readme.IndexOf("<!-- folder-map -->", StringComparison.Ordinal)..readme.IndexOf("<!-- /folder-map -->", StringComparison.Ordinal)];
        var named = Order.Select(f => (Folder: f, At: map.IndexOf($"`{f}/`", StringComparison.Ordinal))).ToList();
        Assert.All(named, n => Assert.True(n.At >= 0, $"the folder map does not name `{n.Folder}`"));
        Assert.Equal(Order, named.OrderBy(n => n.At).Select(n => n.Folder));
    }

    static IEnumerable<(string File, string Folder)> SourceFiles() =>
        Directory.GetDirectories(Source).Select(d => Path.GetFileName(d)!).Where(d => d is not ("bin" or "obj"))
            .SelectMany(folder => Directory.GetFiles(Path.Combine(Source, folder), "*.cs", SearchOption.AllDirectories).Select(f => (f, folder)));

    static string Relative(string file) => Path.GetRelativePath(Source, file);

    [GeneratedRegex(@"^using\s+(?:static\s+)?BreakGlassBot\.(?<folder>\w+)", RegexOptions.Multiline)]
    private static partial Regex UsingPattern();

    [GeneratedRegex(@"^namespace\s+(?<ns>[\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex NamespacePattern();
}
