using LiteDB;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// The few fields of a change that counts and orderings need (the digest's numbers, the overdue list). Read as a
/// projection: LiteDB deserialises only these fields, and no <see cref="EmergencyChange"/> is mapped.
/// </summary>
public readonly record struct ChangeTimes(int Id, ChangeStatus Status, DateTimeOffset DeclaredAt, DateTimeOffset DueAt, DateTimeOffset? ReviewedAt)
{
    internal static readonly BsonExpression Fields = BsonExpression.Create(
        "{ _id: $._id, Status: $.Status, DeclaredAt: $.DeclaredAt, DueAt: $.DueAt, ReviewedAt: $.ReviewedAt }");

    internal static ChangeTimes From(BsonDocument d) => new(
        d["_id"].AsInt32,
        Enum.Parse<ChangeStatus>(d["Status"].AsString),
        Ticks(d["DeclaredAt"]) ?? default,
        Ticks(d["DueAt"]) ?? default,
        Ticks(d["ReviewedAt"]));

    static DateTimeOffset? Ticks(BsonValue v) => v.IsNull ? null : new DateTimeOffset(v.AsInt64, TimeSpan.Zero);

    public static ChangeTimes Of(EmergencyChange c) => new(c.Id, c.Status, c.DeclaredAt, c.DueAt, c.ReviewedAt);

    public bool IsOverdue(DateTimeOffset now) => Status == ChangeStatus.Open && now > DueAt;
}
