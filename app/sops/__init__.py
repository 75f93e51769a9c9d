"""SOP documents (标准化流程文档): the standard of a process, its versions, their review and sign-off."""
