using System.Security.Cryptography;
using System.Text;

namespace BreakGlassBot.Hosting;

public static class ApiKeys
{
    /// <summary>Constant-time comparison against every configured key (hashes first, so lengths do not leak either).</summary>
    public static bool Matches(IEnumerable<string> keys, string presented)
    {
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var found = false;
        foreach (var key in keys)
            found |= !string.IsNullOrEmpty(key) && CryptographicOperations.FixedTimeEquals(given, SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        return found;
    }
}
