using System.Collections.Concurrent;
using LiteDB;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>Small documents features keep beside the changes: linked accounts, and each feature's own collection.</summary>
internal sealed class FeatureDocuments(StoreFile file)
{
    readonly LiteDatabase db = file.Db;
    readonly ILiteCollection<BsonDocument> people = file.People;
    readonly Lock writeLock = file.WriteLock;
    readonly Lock mapLock = new();
    readonly ConcurrentDictionary<Type, bool> mapped = new();

    /// <summary>A feature's collection, its type's mapper built completely before anyone uses it (see StoreFile.CreateMapper).</summary>
    ILiteCollection<T> Collection<T>(string name) where T : class
    {
        if (!mapped.ContainsKey(typeof(T)))
            lock (mapLock)
                if (!mapped.ContainsKey(typeof(T)))
                {
                    StoreFile.MapAhead(db.Mapper, typeof(T));
                    mapped[typeof(T)] = true;
                }
        return db.GetCollection<T>(name);
    }

    /// <summary>A Slack user's account elsewhere ("github", "jira"), as set with /breakglass link.</summary>
    public void LinkAccount(string slackUser, string system, string account)
    {
        lock (writeLock) people.Upsert(new BsonDocument { ["_id"] = $"{system}:{slackUser}", ["account"] = account });
    }

    /// <summary>Every Slack user's linked account in <paramref name="system"/>.</summary>
    public IReadOnlyList<(string SlackUser, string Account)> LinkedAccounts(string system) =>
        [.. people.Find(Query.StartsWith("_id", system + ":")).Select(d => (d["_id"].AsString[(system.Length + 1)..], d["account"].AsString))];

    public bool UnlinkAccount(string slackUser, string system)
    {
        lock (writeLock) return people.Delete($"{system}:{slackUser}");
    }

    public string? LinkedAccount(string slackUser, string system) => people.FindById($"{system}:{slackUser}")?["account"].AsString;

    /// <summary>One document of a feature's own small collection (e.g. the weekly digest's delivery record), or null.</summary>
    /// <remarks>
    /// Feature collections are read under the write lock: LiteDB threw "page type must be collection page" when one was read
    /// (often before it existed) while another thread's first insert created a collection (device-flow sweeps, SSO directory).
    /// </remarks>
    public T? Document<T>(string collection, string id) where T : class
    {
        lock (writeLock) return Collection<T>(collection).FindById(id);
    }

    /// <summary>Every document of a feature's own small collection (e.g. pending GitHub device-flow links).</summary>
    public IReadOnlyList<T> Documents<T>(string collection) where T : class
    {
        lock (writeLock) return [.. Collection<T>(collection).FindAll()];
    }

    /// <summary>Saves many documents of a feature's collection in one transaction (one commit for all).</summary>
    public void SaveDocuments<T>(string collection, IReadOnlyList<(string Id, T Document)> documents) where T : class
    {
        if (documents.Count == 0) return;
        lock (writeLock)
            file.InTransaction(() =>
            {
                var c = Collection<T>(collection);
                foreach (var (id, document) in documents) c.Upsert(id, document);
                return documents.Count;
            });
    }

    /// <summary>Deletes the documents whose <paramref name="field"/> (a number) is below <paramref name="below"/>; returns how many.</summary>
    public int DeleteDocumentsBelow<T>(string collection, string field, long below) where T : class
    {
        lock (writeLock) return Collection<T>(collection).DeleteMany(BsonExpression.Create($"$.{field} < @0", new BsonValue(below)));
    }

    public bool DeleteDocument<T>(string collection, string id) where T : class
    {
        lock (writeLock) return Collection<T>(collection).Delete(id);
    }

    /// <summary>
    /// Read-modify-write of one document of a feature's own collection under the write lock, so concurrent writers
    /// lose nothing. <paramref name="mutate"/> gets null when the document does not exist yet, and returns what to save.
    /// </summary>
    public T SaveDocument<T>(string collection, string id, Func<T?, T> mutate) where T : class
    {
        lock (writeLock)
        {
            var documents = Collection<T>(collection);
            var document = mutate(documents.FindById(id));
            documents.Upsert(id, document);
            return document;
        }
    }
}
