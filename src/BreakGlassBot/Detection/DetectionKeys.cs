namespace BreakGlassBot.Detection;

/// <summary>The names a detected case's Slack side shares with the engine that opens the case: direct-message keys and interaction ids.</summary>
public static class DetectionKeys
{
    /// <summary>Direct message to the person responsible: add the summary and justification.</summary>
    public const string Responsible = "detected";
    /// <summary>Direct message to each admin when nobody is known to be responsible: assign someone.</summary>
    public const string Assign = "detected-assign";
    /// <summary>The button on <see cref="Responsible"/>'s message that opens the explanation form.</summary>
    public const string ExplainAction = "explain_detected";
    /// <summary>The explanation form's callback_id.</summary>
    public const string ExplainCallback = "explain_detected";
}
