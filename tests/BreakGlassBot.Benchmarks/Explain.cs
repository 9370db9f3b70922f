using LiteDB;

namespace BreakGlassBot.Benchmarks;

/// <summary>explain FILE "SQL" [args...]: LiteDB's query plan of one statement on a copy of a store file (index used, fields loaded).</summary>
public static class Explain
{
    public static int Run(string[] args)
    {
        var copy = Path.GetTempFileName();
        File.Copy(args[0], copy, overwrite: true);
        try
        {
            using var db = new LiteDatabase(new ConnectionString { Filename = copy, ReadOnly = true });
            var parameters = new BsonDocument();
            for (var i = 2; i < args.Length; i++) parameters[(i - 2).ToString()] = long.TryParse(args[i], out var n) ? new BsonValue(n) : new BsonValue(args[i]);
            using var reader = db.Execute("EXPLAIN " + args[1], parameters);
            while (reader.Read()) Console.WriteLine(JsonSerializer.Serialize(reader.Current, indent: true));
        }
        finally { File.Delete(copy); }
        return 0;
    }
}
