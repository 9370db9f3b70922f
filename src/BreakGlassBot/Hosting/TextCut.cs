using System.Globalization;
using System.Text.RegularExpressions;

namespace BreakGlassBot.Hosting;

/// <summary>Shortening text for services with length limits, on whole characters: half a surrogate pair is invalid text.</summary>
public static partial class TextCut
{
    /// <summary>At most <paramref name="max"/> UTF-16 units, ending in <paramref name="ellipsis"/> when cut; never inside a text element (emoji, accents).</summary>
    public static string Cut(string text, int max, string ellipsis = "…")
    {
        if (text.Length <= max) return text;
        var room = Math.Max(0, max - ellipsis.Length);
        var end = 0;
        var elements = StringInfo.GetTextElementEnumerator(text);
        while (elements.MoveNext())
        {
            var next = elements.ElementIndex + elements.GetTextElement().Length;
            if (next > room) break;
            end = next;
        }
        return string.Concat(text.AsSpan(0, end), ellipsis);
    }

    /// <summary>Line breaks (and the blanks around them) become one space: Jira refuses a summary with a newline.</summary>
    public static string OneLine(string text) => LineBreaks().Replace(text, " ").Trim();

    [GeneratedRegex(@"\s*[\r\n\u0085\u2028\u2029]+\s*")]
    private static partial Regex LineBreaks();
}
