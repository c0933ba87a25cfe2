// Botpress Execute Code card: send what the bot collected to the bridge's Botpress route.
// The card provides axios and the event, user and workflow objects; env holds the bot's
// configuration variables (set BRIDGE_URL and BRIDGE_TOKEN there, never in the code).
// BRIDGE_URL: https://<your bridge>/api/v1/platforms/botpress/<mapping set slug>/
try {
  const response = await axios.post(
    env.BRIDGE_URL,
    {
      turn_id: event.id, // unique per incoming message: a retry reaches Braze once
      conversation_id: event.conversationId,
      user_id: event.userId,
      text: event.preview,
      language: user.language,
      user: { firstName: user.firstName, plan: user.plan },
      variables: {
        fullName: workflow.fullName,
        email: workflow.email,
        birthDate: workflow.birthDate,
        phone: workflow.phone,
        marketingOptIn: workflow.marketingOptIn,
        tripsPerYear: workflow.tripsPerYear,
      },
    },
    {
      headers: { Authorization: `Bearer ${env.BRIDGE_TOKEN}` },
      timeout: 10000, // the route answers within 9 s (queued when Braze is slower)
    },
  );
  workflow.brazeSynced = response.data.success === true;
  workflow.brazeStatus = response.data.status;
  workflow.brazeDeliveryId = response.data.delivery_id || '';
} catch (error) {
  // axios rejects any non-2xx answer: 422 (the mapping rejected the conversation), 502 (Braze
  // refused the record), 401 (the token); or no answer at all (network, timeout).
  const answer = (error.response && error.response.data) || {};
  workflow.brazeSynced = false;
  workflow.brazeStatus = answer.status || 'unreachable';
  workflow.brazeDeliveryId = answer.delivery_id || '';
  workflow.brazeError = answer.message || error.message;
}
