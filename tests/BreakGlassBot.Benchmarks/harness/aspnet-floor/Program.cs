// The /breakglass slash command on a bare ASP.NET Core minimal API, same contract as ../bolt-peer/app.js:
//
//   SLACK_SIGNING_SECRET=... PORT=3102 bin/Release/net10.0/aspnet-floor      (HOST defaults to 127.0.0.1)
//
// POST /slack/events   X-Slack-Request-Timestamp within 300 s of now (401 otherwise); body at most 64 KiB (413);
//                      X-Slack-Signature must be "v0=" + hex(HMAC-SHA256(secret, "v0:{ts}:{body}")), compared in
//                      constant time (401); command must be /breakglass (400); then {user_id, channel_id, text, at}
//                      is stored in memory and 200 answers {"response_type":"ephemeral","text":"..."}.
// GET  /bench/records  {"count": N}: lets the harness check that every 2xx ran the handler.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.WebUtilities;

var secret = Environment.GetEnvironmentVariable("SLACK_SIGNING_SECRET");
if (string.IsNullOrEmpty(secret))
{
    Console.Error.WriteLine("aspnet-floor: set SLACK_SIGNING_SECRET");
    return 2;
}
var host = Environment.GetEnvironmentVariable("HOST") ?? "127.0.0.1";
var port = Environment.GetEnvironmentVariable("PORT") ?? "3102";

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.UseUrls($"http://{host}:{port}");
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, FloorJson.Default));
var app = builder.Build();

var command = new Breakglass(Encoding.UTF8.GetBytes(secret));
app.MapPost("/slack/events", command.HandleAsync);
app.MapGet("/bench/records", () => new Count(command.Stored));
app.Lifetime.ApplicationStarted.Register(() =>
    Console.WriteLine($"aspnet-floor: pid {Environment.ProcessId}, POST http://{host}:{port}/slack/events"));
app.Lifetime.ApplicationStopping.Register(() => Console.WriteLine($"aspnet-floor: {command.Stored} requests stored; stopping"));
app.Run();
return 0;

sealed record Stored(string UserId, string ChannelId, string Text, long At);
sealed record Ephemeral([property: JsonPropertyName("response_type")] string ResponseType, [property: JsonPropertyName("text")] string Text);
sealed record Count([property: JsonPropertyName("count")] int Value);

[JsonSerializable(typeof(Ephemeral))]
[JsonSerializable(typeof(Count))]
sealed partial class FloorJson : JsonSerializerContext;

sealed class Breakglass(byte[] key)
{
    const int MaxBody = 64 * 1024;
    const long Window = 300;
    readonly List<Stored> stored = [];
    readonly Lock gate = new();

    public int Stored { get { lock (gate) return stored.Count; } }

    public async Task<IResult> HandleAsync(HttpRequest request)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!long.TryParse(request.Headers["X-Slack-Request-Timestamp"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var ts)
            || Math.Abs(now - ts) > Window)
            return Results.Unauthorized();
        var given = request.Headers["X-Slack-Signature"].ToString();
        if (given.Length != 67 || !given.StartsWith("v0=", StringComparison.Ordinal))
            return Results.Unauthorized();

        var body = await ReadAsync(request);
        if (body is null) return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
        if (!Signed(ts, body, given)) return Results.Unauthorized();

        var form = new FormReader(Encoding.UTF8.GetString(body)).ReadForm();
        if (form.GetValueOrDefault("command") != "/breakglass") return Results.BadRequest();
        var text = form.GetValueOrDefault("text").ToString();
        var entry = new Stored(form.GetValueOrDefault("user_id").ToString(), form.GetValueOrDefault("channel_id").ToString(), text,
            DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        lock (gate) stored.Add(entry);
        return TypedResults.Json(new Ephemeral("ephemeral", "Break-glass request received: " + text), FloorJson.Default.Ephemeral);
    }

    bool Signed(long ts, byte[] body, string given)
    {
        byte[] expected;
        try { expected = Convert.FromHexString(given.AsSpan(3)); }
        catch (FormatException) { return false; }
        var prefix = Encoding.ASCII.GetBytes($"v0:{ts.ToString(CultureInfo.InvariantCulture)}:");
        using var mac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        mac.AppendData(prefix);
        mac.AppendData(body);
        return CryptographicOperations.FixedTimeEquals(mac.GetHashAndReset(), expected);
    }

    static async Task<byte[]?> ReadAsync(HttpRequest request)
    {
        if (request.ContentLength > MaxBody) return null;
        using var buffer = new MemoryStream(request.ContentLength is { } n ? (int)n : 1024);
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBody) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
