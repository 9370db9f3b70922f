using BreakGlassBot.EmergencyChanges;
using LiteDB;

namespace BreakGlassBot.Tests.EmergencyChanges;

/// <summary>
/// The chain's engine-neutral normal form hashes every event exactly as the LiteDB mapper round trip it replaced did, so
/// no existing trail changes meaning.
/// </summary>
public class AuditSealNormalFormTests
{
    static readonly BsonMapper Mapper = ChangeStore.CreateMapper();

    /// <summary>The former Seal, kept as the reference: the values as LiteDB's mapper stores and reads them back.</summary>
    static void ReferenceSeal(AuditEvent e, string previousHash)
    {
        var stored = Mapper.ToObject<AuditEvent>(Mapper.ToDocument(e));
        (e.At, e.Actor, e.Type, e.Data) = (stored.At, stored.Actor, stored.Type, stored.Data);
        e.PreviousHash = previousHash;
        e.Hash = AuditChain.HashOf(e);
    }

    static readonly string?[] Values =
    [
        null, "", " ", "  ", "\t", "\r\n", "x", " x", "x ", "  x  ", "\tx\n", "a b", " a  b ", "\u00a0x\u00a0", "\u3000", "\u3000y\u3000", "\u200bz\u200b",
        "\u0085w\u0085", "\u2028", "é", " é ", "日本語", " 😀 ", "😀", "a\u0000b", "\u0000", "lgtm", "U0ABC", "https://example.com/x?y=1&z=2", "\"quoted\"", "line1\nline2",
    ];

    static readonly string[] Keys = ["comment", "Comment", "COMMENT", " comment", "comment ", "source", "ключ", "日本", "a.b", "x_y", "pr", "PR", "Pr", "😀", "k"];

    static AuditEvent Generate(Random random)
    {
        string? Pick() => Values[random.Next(Values.Length)];
        var data = new Dictionary<string, string>();
        var entries = random.Next(0, 6);
        for (var i = 0; i < entries; i++) data[Keys[random.Next(Keys.Length)]] = Pick()!;
        return new AuditEvent
        {
            Sequence = random.Next(1, 1_000_000),
            ChangeNumber = random.Next(0, 500),
            At = new DateTimeOffset(random.NextInt64(DateTimeOffset.UnixEpoch.Ticks, new DateTime(2100, 1, 1).Ticks), TimeSpan.FromMinutes(random.Next(-14 * 60, 14 * 60 + 1))),
            Actor = Pick()!,
            Type = Pick()!,
            Data = random.Next(20) == 0 ? null! : data,
            State = random.Next(3) == 0 ? new string('a', 64) : null,
            PreviousState = random.Next(2) == 0 ? "" : new string('b', 64),
        };
    }

    static AuditEvent Copy(AuditEvent e) => new()
    {
        Sequence = e.Sequence, ChangeNumber = e.ChangeNumber, At = e.At, Actor = e.Actor, Type = e.Type,
        Data = e.Data is null ? null! : new Dictionary<string, string>(e.Data), State = e.State, PreviousState = e.PreviousState,
    };

    [Fact]
    public void TheNormalFormHashesEveryEventAsTheLiteDbMapperDid()
    {
        var random = new Random(20);
        for (var i = 0; i < 20_000; i++)
        {
            var original = Generate(random);
            var (reference, neutral) = (Copy(original), Copy(original));
            var previous = i % 7 == 0 ? AuditChain.Genesis : Convert.ToHexStringLower(BitConverter.GetBytes(i)).PadLeft(64, 'f');
            ReferenceSeal(reference, previous);
            AuditChain.Seal(neutral, previous);
            Assert.Equal(reference.Hash, neutral.Hash);
            Assert.Equal(reference.At, neutral.At);
            Assert.Equal(reference.At.Offset, neutral.At.Offset);
            Assert.Equal(reference.Actor, neutral.Actor);
            Assert.Equal(reference.Type, neutral.Type);
            Assert.Equal(reference.Data.OrderBy(kv => kv.Key, StringComparer.Ordinal), neutral.Data.OrderBy(kv => kv.Key, StringComparer.Ordinal));
        }
    }

    [Theory]
    [InlineData(" lgtm ", "lgtm")]
    [InlineData("", null)]
    [InlineData("   ", null)]
    [InlineData("\u00a0ok\u00a0", "ok")]
    public void DataValuesAreTrimmedAndEmptyBecomesNull(string given, string? stored)
    {
        var e = new AuditEvent { Actor = " U1 ", Type = "", Data = new() { [" key "] = given } };
        AuditChain.Seal(e, AuditChain.Genesis);
        Assert.Equal("U1", e.Actor);
        Assert.Null(e.Type);
        Assert.Equal(stored, e.Data[" key "]);
    }
}
