using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BreakGlassBot.Hosting;
using Octokit;

namespace BreakGlassBot.GitHub;

/// <summary>Octokit asks this for credentials before every request.</summary>
public interface IGitHubCredentials : ICredentialStore
{
    /// <summary>GitHub answered 401: forget any cached token so the next call gets a fresh one.</summary>
    void Invalidate();
}

/// <summary>A personal access token or fine-grained token (GitHub:Token).</summary>
internal sealed class TokenCredentials(string token) : IGitHubCredentials
{
    public Task<Credentials> GetCredentials() => Task.FromResult(new Credentials(token));
    public void Invalidate() { }
}

/// <summary>
/// GitHub App authentication: an RS256 JWT signed with the app's private key is exchanged at
/// POST /app/installations/{id}/access_tokens for an installation token, which lasts an hour.
/// The token is cached and renewed five minutes before it runs out.
/// </summary>
internal sealed class GitHubAppCredentials(GitHubOptions options, IHttpMessageHandlerFactory handlers, TimeProvider time) : IGitHubCredentials
{
    public static readonly TimeSpan RenewBefore = TimeSpan.FromMinutes(5);
    readonly SemaphoreSlim gate = new(1, 1);
    readonly Lock keyLock = new();
    (string Token, DateTimeOffset ExpiresAt)? cached;
    RSA? key;

    /// <summary>How many times a token was fetched; for tests and logs.</summary>
    public int Exchanges { get; private set; }

    public async Task<Credentials> GetCredentials()
    {
        if (Fresh() is { } token) return new Credentials(token);
        await gate.WaitAsync();
        try
        {
            if (Fresh() is { } again) return new Credentials(again);
            var now = time.GetUtcNow();
            var jwt = AppJwt.Create(options.AppId!.Value, Key(), now);
            var client = GitHubGateway.CreateClient(handlers, GitHubGateway.BaseUri(options),
                new Octokit.Internal.InMemoryCredentialStore(new Credentials(jwt, AuthenticationType.Bearer)));
            AccessToken fetched;
            try { fetched = await client.GitHubApps.CreateInstallationToken(options.InstallationId!.Value); }
            catch (ApiException e) { throw GitHubGateway.Map(e, now); }
            catch (Exception e) when (e is HttpRequestException or Polly.Timeout.TimeoutRejectedException or TaskCanceledException or IOException)
            {
                throw new GitHubException(GitHubFailure.Unavailable, "GitHub unreachable while fetching the app installation token", inner: e);
            }
            Exchanges++;
            cached = (fetched.Token, fetched.ExpiresAt);
            return new Credentials(fetched.Token);
        }
        finally
        {
            gate.Release();
        }
    }

    string? Fresh() => cached is { } c && time.GetUtcNow() < c.ExpiresAt - RenewBefore ? c.Token : null;

    public void Invalidate() => cached = null;

    RSA Key()
    {
        lock (keyLock)
        {
            if (key is not null) return key;
            var rsa = RSA.Create();
            try
            {
                // ImportFromPem reads PKCS#1 ("BEGIN RSA PRIVATE KEY", what GitHub hands out) and PKCS#8 alike.
                rsa.ImportFromPem(File.ReadAllText(options.PrivateKeyPath!));
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException or IOException or UnauthorizedAccessException)
            {
                rsa.Dispose();
                throw new GitHubException(GitHubFailure.Unauthorized,
                    $"cannot read the GitHub App private key at GitHub:PrivateKeyPath ({e.GetType().Name}); download a new .pem from the app's settings", inner: e);
            }
            return key = rsa;
        }
    }
}

/// <summary>The JWT a GitHub App signs to authenticate as itself (RS256, at most 10 minutes).</summary>
public static class AppJwt
{
    public static string Create(long appId, RSA key, DateTimeOffset now)
    {
        // Issued a minute in the past against clock drift, as GitHub recommends; valid for 9 minutes (the limit is 10).
        var header = Base64Url("""{"alg":"RS256","typ":"JWT"}"""u8.ToArray());
        var payload = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["iat"] = now.AddSeconds(-60).ToUnixTimeSeconds(),
            ["exp"] = now.AddMinutes(9).ToUnixTimeSeconds(),
            ["iss"] = appId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }));
        var signingInput = header + "." + payload;
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url(signature);
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
