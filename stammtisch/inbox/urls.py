from django.urls import path

from stammtisch.inbox import views, views_live, views_rules, views_sla, views_team, views_webhooks

app_name = "inbox"

urlpatterns = [
    path("w/<slug:slug>/inbox/", views.inbox, name="list"),
    path("w/<slug:slug>/inbox/<int:conversation_id>/", views.conversation, name="conversation"),
    path("w/<slug:slug>/inbox/<int:conversation_id>/reply/", views.reply, name="reply"),
    path("w/<slug:slug>/inbox/<int:conversation_id>/status/", views.status, name="status"),
    path("w/<slug:slug>/inbox/<int:conversation_id>/assign/", views.assign, name="assign"),
    path("w/<slug:slug>/inbox/<int:conversation_id>/note/", views.note, name="note"),
    path("w/<slug:slug>/inbox/messages/<int:message_id>/label/", views.correct_label, name="label"),
    path("w/<slug:slug>/inbox/saved-replies/", views.saved_replies, name="saved_replies"),
    # Team tools (views_team.py, views_rules.py; docs/inbox.md "Rules" and after)
    path("w/<slug:slug>/inbox/bulk/", views_team.bulk, name="bulk"),
    path("w/<slug:slug>/inbox/views/", views_team.save_view, name="save_view"),
    path("w/<slug:slug>/inbox/views/<int:view_id>/delete/", views_team.delete_view, name="delete_view"),
    path("w/<slug:slug>/inbox/<int:conversation_id>/labels/", views_team.add_label, name="add_label"),
    path("w/<slug:slug>/inbox/labels/<int:label_id>/delete/", views_team.remove_label, name="remove_label"),
    path("w/<slug:slug>/inbox/messages/<int:message_id>/hide/", views_team.mute, name="mute"),
    path("w/<slug:slug>/inbox/messages/<int:message_id>/network/", views_team.network_action, name="network"),
    path("w/<slug:slug>/inbox/replies/<int:reply_id>/decide/", views_team.decide_reply, name="decide_reply"),
    path("w/<slug:slug>/inbox/rules/", views_rules.rule_list, name="rules"),
    path("w/<slug:slug>/inbox/rules/<int:rule_id>/", views_rules.rule_edit, name="rule_edit"),
    path("w/<slug:slug>/inbox/rules/<int:rule_id>/enable/", views_rules.rule_enable, name="rule_enable"),
    path("w/<slug:slug>/inbox/rules/<int:rule_id>/delete/", views_rules.rule_delete, name="rule_delete"),
    path("w/<slug:slug>/inbox/settings/", views_rules.inbox_settings, name="settings"),
    # Response time, live updates, webhooks (views_sla.py, views_live.py, views_webhooks.py)
    path("w/<slug:slug>/inbox/sla/", views_sla.sla_page, name="sla"),
    path("w/<slug:slug>/inbox/sla/settings/", views_sla.sla_settings, name="sla_settings"),
    path("w/<slug:slug>/inbox/live/", views_live.live, name="live"),
    path("webhooks/meta/", views_webhooks.meta, name="webhook_meta"),
    path("webhooks/threads/", views_webhooks.threads, name="webhook_threads"),
    path("webhooks/telegram/<int:channel_id>/", views_webhooks.telegram, name="webhook_telegram"),
    path(
        "w/<slug:slug>/inbox/saved-replies/<int:saved_reply_id>/delete/",
        views.saved_reply_delete,
        name="saved_reply_delete",
    ),
]
